package tcptable

// OwnerStatus says whether an owner (a PID, or a module) is known and, when
// it is not, why. The zero value, OwnerUnknown, means the provider did not
// say.
type OwnerStatus uint8

// The owner statuses.
const (
	// OwnerUnknown: the provider gave no reason.
	OwnerUnknown OwnerStatus = iota
	// OwnerOK: the owner is known.
	OwnerOK
	// OwnerNotRequested: the Query asked for less detail (Query.Owners).
	OwnerNotRequested
	// OwnerKernel: the kernel owns the row and no process does (TIME-WAIT,
	// orphaned FIN-WAIT sockets, the Windows Idle process with PID 0).
	OwnerKernel
	// OwnerPermissionDenied: the caller may not inspect the owning process
	// (another user's process without root, a protected process on Windows).
	OwnerPermissionDenied
	// OwnerExited: the owning process exited while the table was read.
	OwnerExited
	// OwnerOtherNamespace: no process this provider can see holds the
	// socket; its holders live in another PID namespace or container.
	OwnerOtherNamespace
	// OwnerNotFound: the OS found no owner (Windows ERROR_NOT_FOUND; a
	// socket no process holds a descriptor for).
	OwnerNotFound
	// OwnerNotSupported: this OS or provider cannot tell the owner.
	OwnerNotSupported
)

var ownerStatusNames = [...]string{
	OwnerUnknown:          "unknown",
	OwnerOK:               "ok",
	OwnerNotRequested:     "not-requested",
	OwnerKernel:           "kernel",
	OwnerPermissionDenied: "permission-denied",
	OwnerExited:           "exited",
	OwnerOtherNamespace:   "other-namespace",
	OwnerNotFound:         "not-found",
	OwnerNotSupported:     "not-supported",
}

// String returns a short kebab-case name ("permission-denied") or
// "OwnerStatus(N)".
func (s OwnerStatus) String() string { return nameOf(ownerStatusNames[:], "OwnerStatus", uint8(s)) }

// MarshalText implements encoding.TextMarshaler with String's names.
func (s OwnerStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the names String returns.
func (s *OwnerStatus) UnmarshalText(b []byte) error {
	v, err := parseName(ownerStatusNames[:], "OwnerStatus", string(b))
	*s = OwnerStatus(v)
	return err
}

// ModuleSource says where a Connection's Module came from.
type ModuleSource uint8

// The module sources.
const (
	// SourceNone: no module was resolved.
	SourceNone ModuleSource = iota
	// SourceOwnerModule: Windows GetOwnerModuleFromTcpEntry /
	// GetOwnerModuleFromTcp6Entry (the service or image that owns the row).
	SourceOwnerModule
	// SourceProcessImage: the owning process' image, from
	// QueryFullProcessImageNameW on Windows (the fallback where the
	// owner-module API is missing or fails).
	SourceProcessImage
	// SourceProcfs: /proc/PID/comm and /proc/PID/exe on Linux.
	SourceProcfs
	// SourceGopsutil: gopsutil's process facts (name, exe).
	SourceGopsutil
	// SourceSynthetic: made up by a mock or supplied by a caller.
	SourceSynthetic
)

var moduleSourceNames = [...]string{
	SourceNone:         "none",
	SourceOwnerModule:  "owner-module",
	SourceProcessImage: "process-image",
	SourceProcfs:       "procfs",
	SourceGopsutil:     "gopsutil",
	SourceSynthetic:    "synthetic",
}

// String returns a short kebab-case name ("owner-module") or "ModuleSource(N)".
func (s ModuleSource) String() string { return nameOf(moduleSourceNames[:], "ModuleSource", uint8(s)) }

// MarshalText implements encoding.TextMarshaler with String's names.
func (s ModuleSource) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the names String returns.
func (s *ModuleSource) UnmarshalText(b []byte) error {
	v, err := parseName(moduleSourceNames[:], "ModuleSource", string(b))
	*s = ModuleSource(v)
	return err
}
