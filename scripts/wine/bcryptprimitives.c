/*
 * bcryptprimitives.c: a stand-in bcryptprimitives.dll for Wine releases that
 * lack it (Wine 8.0). Go >= 1.22 programs import bcryptprimitives!ProcessPrng
 * at start-up and die without it; this DLL provides exactly that export,
 * implemented with RtlGenRandom (advapi32!SystemFunction036), which every
 * Wine release has.
 *
 * Build (scripts/wine-test.sh does this into a fresh prefix):
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *       bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom is exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/*
 * ProcessPrng fills data with cbData cryptographically random bytes. Like
 * the real export it always returns TRUE; a failure of the underlying
 * generator would leave the process without randomness, so it aborts
 * instead of returning predictable bytes.
 */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T cbData)
{
    while (cbData > 0) {
        ULONG chunk = cbData > 0x7fffffff ? 0x7fffffff : (ULONG)cbData;
        if (!SystemFunction036(data, chunk))
            RaiseFailFastException(NULL, NULL, 0);
        data += chunk;
        cbData -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance; (void)reason; (void)reserved;
    return TRUE;
}
