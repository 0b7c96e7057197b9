//! Process-shared glibc mutexes in a `MAP_SHARED` file mapping.
//!
//! The controller [`SharedLocks::create`]s the file and initialises `n`
//! `pthread_mutex_t`s with `PTHREAD_PROCESS_SHARED` (and optionally
//! `PTHREAD_PRIO_INHERIT`); each role process [`SharedLocks::open`]s it.
//! These are real glibc mutexes (futex based), unlike `std::sync::Mutex`.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Bytes reserved per mutex (one cache line; `pthread_mutex_t` is 40 bytes).
const SLOT: usize = 64;

pub struct SharedLocks {
    base: *mut u8,
    map_len: usize,
    n: usize,
}

// SAFETY: the mapping is shared memory holding pthread mutexes, which are
// designed to be used concurrently.
unsafe impl Send for SharedLocks {}
unsafe impl Sync for SharedLocks {}

pub(crate) fn check(rc: libc::c_int, what: &str) -> Result<()> {
    if rc != 0 {
        bail!("{what}: {}", std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// The attributes of a glibc mutex to initialise.
#[derive(Clone, Copy, Debug)]
pub struct MutexAttrs {
    /// PTHREAD_PROCESS_SHARED
    pub pshared: bool,
    /// PTHREAD_MUTEX_ROBUST
    pub robust: bool,
    /// PTHREAD_PRIO_INHERIT
    pub pi: bool,
}

/// `pthread_mutex_init(m)` with `attrs`.
///
/// # Safety
/// `m` must point to writable memory for a `pthread_mutex_t` that no one
/// uses while it is initialised.
pub unsafe fn init_mutex(m: *mut libc::pthread_mutex_t, attrs: MutexAttrs) -> Result<()> {
    let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
    check(
        libc::pthread_mutexattr_init(&mut attr),
        "pthread_mutexattr_init",
    )?;
    let mut set = || -> Result<()> {
        if attrs.pshared {
            check(
                libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED),
                "pthread_mutexattr_setpshared",
            )?;
        }
        if attrs.robust {
            check(
                libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST),
                "pthread_mutexattr_setrobust",
            )?;
        }
        if attrs.pi {
            check(
                libc::pthread_mutexattr_setprotocol(&mut attr, libc::PTHREAD_PRIO_INHERIT),
                "pthread_mutexattr_setprotocol(PTHREAD_PRIO_INHERIT)",
            )?;
        }
        check(libc::pthread_mutex_init(m, &attr), "pthread_mutex_init")
    };
    let res = set();
    libc::pthread_mutexattr_destroy(&mut attr);
    res
}

impl SharedLocks {
    fn map(path: &Path, n: usize, create: bool) -> Result<Self> {
        if n == 0 {
            bail!("no locks");
        }
        let len = n * SLOT;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(create)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        if create {
            f.set_len(len as u64)?;
        } else if (f.metadata()?.len() as usize) < len {
            bail!("lock file {} is too short", path.display());
        }
        // SAFETY: mapping a file we opened read-write, length checked above.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            bail!(
                "mmap {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(Self {
            base: base as *mut u8,
            map_len: len,
            n,
        })
    }

    /// Create the lock file with `n` initialised mutexes.
    pub fn create(path: &Path, n: usize, pi: bool) -> Result<Self> {
        let me = Self::map(path, n, true)?;
        let attrs = MutexAttrs {
            pshared: true,
            robust: false,
            pi,
        };
        for i in 0..n {
            // SAFETY: each slot is inside the mapping and suitably aligned
            // (page + 64*i).
            unsafe { init_mutex(me.slot(i), attrs)? };
        }
        Ok(me)
    }

    /// Map an existing lock file holding `n` mutexes.
    pub fn open(path: &Path, n: usize) -> Result<Self> {
        Self::map(path, n, false)
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn slot(&self, i: usize) -> *mut libc::pthread_mutex_t {
        assert!(i < self.n, "lock index {i} out of range");
        // SAFETY: in bounds of the mapping (checked above).
        unsafe { self.base.add(i * SLOT) as *mut libc::pthread_mutex_t }
    }

    pub fn lock(&self, i: usize) -> Result<()> {
        // SAFETY: slot i holds an initialised process-shared mutex.
        check(
            unsafe { libc::pthread_mutex_lock(self.slot(i)) },
            "pthread_mutex_lock",
        )
    }

    pub fn unlock(&self, i: usize) -> Result<()> {
        // SAFETY: as for lock; called by the owner.
        check(
            unsafe { libc::pthread_mutex_unlock(self.slot(i)) },
            "pthread_mutex_unlock",
        )
    }

    /// Returns Ok(true) if acquired, Ok(false) if busy.
    pub fn try_lock(&self, i: usize) -> Result<bool> {
        // SAFETY: as for lock.
        let rc = unsafe { libc::pthread_mutex_trylock(self.slot(i)) };
        match rc {
            0 => Ok(true),
            libc::EBUSY => Ok(false),
            _ => check(rc, "pthread_mutex_trylock").map(|_| false),
        }
    }
}

impl Drop for SharedLocks {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what map() mapped.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.map_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_between_mappings() {
        for pi in [false, true] {
            let p = std::env::temp_dir().join(format!("demo-locks-{}-{pi}", std::process::id()));
            let a = SharedLocks::create(&p, 2, pi).unwrap();
            let b = SharedLocks::open(&p, 2).unwrap();
            assert_eq!(b.len(), 2);
            a.lock(1).unwrap();
            let held = std::thread::scope(|s| s.spawn(|| b.try_lock(1).unwrap()).join().unwrap());
            assert!(!held, "second mapping must see the lock held (pi={pi})");
            assert!(b.try_lock(0).unwrap());
            b.unlock(0).unwrap();
            a.unlock(1).unwrap();
            assert!(std::thread::scope(|s| s
                .spawn(|| b.try_lock(1).unwrap())
                .join()
                .unwrap()));
            drop(a);
            drop(b);
            std::fs::remove_file(&p).unwrap();
        }
    }
}
