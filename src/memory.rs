//! Memory given back to the system after a large piece of work (an import of 100,000 rows).
//! glibc's allocator keeps what was freed for later allocations: without this, the service's
//! resident size would stay near the peak of its largest import.
//!
//! Capping glibc's arenas (`mallopt(M_ARENA_MAX, 2)`) was measured too: about 100 MB less at an
//! import's peak, but the import took twice as long and others' writes during it three times as
//! long (BENCHMARKS.md), so it is not done; an operator may still set `MALLOC_ARENA_MAX`.

/// Returns the allocator's free memory to the system (glibc's `malloc_trim`); elsewhere nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
