//! Giving memory back to the system after a large piece of work (an import of 100,000 rows).
//! glibc's allocator keeps what was freed for later allocations, so without this the service's
//! resident size stays at the peak of its largest import for good.

/// Returns the allocator's free memory to the system (glibc's `malloc_trim`); elsewhere nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
