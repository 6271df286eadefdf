package tcptable_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoPackageMutableState enforces the rule "no package-level mutable
// state" where it is cheap to check: no non-test, non-generated Go file of
// the module declares a package-level variable that is a map or a slice
// (a literal, a make, or of such a type). Lookup tables belong in
// functions (a switch, or a value built inside the function) or in
// arrays; sentinel errors and interface assertions are not tables.
func TestNoPackageMutableState(t *testing.T) {
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					var value ast.Expr
					if i < len(vs.Values) {
						value = vs.Values[i]
					}
					if name.Name != "_" && (isTable(vs.Type) || isTableValue(value)) {
						found = append(found, fset.Position(name.Pos()).String()+" "+name.Name)
					}
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, found, "package-level maps or slices (mutable state): make them functions or arrays")
}

// isTable reports whether t is a map or slice type.
func isTable(t ast.Expr) bool {
	switch t := t.(type) {
	case *ast.MapType:
		return true
	case *ast.ArrayType:
		return t.Len == nil
	}
	return false
}

// isTableValue reports whether v is a map or slice literal or a make call.
func isTableValue(v ast.Expr) bool {
	switch v := v.(type) {
	case *ast.CompositeLit:
		return isTable(v.Type)
	case *ast.CallExpr:
		id, ok := v.Fun.(*ast.Ident)
		return ok && id.Name == "make"
	}
	return false
}
