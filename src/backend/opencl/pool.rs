//! A caching allocator for device buffers (as PyTorch's CUDA allocator):
//! a dropped buffer goes back to its device's pool, keyed by its length, and
//! the next allocation of that length takes it instead of a new
//! `clCreateBuffer`. A training step allocates the same sizes every time, and
//! fresh memory is expensive: on PoCL every first touch of a page faults,
//! which made a 10 MB ReLU output cost more than the ReLU itself.
//!
//! Reuse is safe because the device has one in-order queue: whatever a
//! dropped buffer's last reader or writer was, it was enqueued before the
//! drop, so it runs before any command of the buffer's next owner.

use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use opencl3::memory::Buffer;

/// Free buffers of one element type, by length.
pub(crate) struct Pool<T> {
    inner: Mutex<Free<T>>,
    /// Free buffers beyond this many bytes are released instead of kept.
    max_bytes: usize,
}

struct Free<T> {
    by_len: HashMap<usize, Vec<Buffer<T>>>,
    bytes: usize,
}

impl<T> Pool<T> {
    pub fn new(max_bytes: usize) -> Arc<Pool<T>> {
        Arc::new(Pool {
            inner: Mutex::new(Free {
                by_len: HashMap::new(),
                bytes: 0,
            }),
            max_bytes,
        })
    }

    /// A free buffer of exactly `len` elements, if one is waiting.
    pub fn take(&self, len: usize) -> Option<Buffer<T>> {
        let mut free = self.inner.lock().ok()?;
        let buf = free.by_len.get_mut(&len)?.pop()?;
        free.bytes -= len * std::mem::size_of::<T>();
        Some(buf)
    }

    /// Release every free buffer to the driver; how many there were.
    pub fn clear(&self) -> usize {
        let Ok(mut free) = self.inner.lock() else {
            return 0;
        };
        let n = free.by_len.values().map(Vec::len).sum();
        free.by_len.clear();
        free.bytes = 0;
        n
    }

    /// Bytes held by free buffers (for tests: a training loop keeps this flat).
    pub fn free_bytes(&self) -> usize {
        self.inner.lock().map_or(0, |f| f.bytes)
    }

    fn put(&self, len: usize, buf: Buffer<T>) {
        let bytes = len * std::mem::size_of::<T>();
        let Ok(mut free) = self.inner.lock() else {
            return; // dropped: released
        };
        if free.bytes + bytes <= self.max_bytes {
            free.bytes += bytes;
            free.by_len.entry(len).or_default().push(buf);
        }
    }
}

/// A device buffer of `len` elements that returns to its pool when dropped
/// (or is released, when it has none).
pub(crate) struct DevBuf<T> {
    buf: Option<Buffer<T>>,
    len: usize,
    pool: Option<Arc<Pool<T>>>,
}

impl<T> DevBuf<T> {
    /// `buf` holds at least `len` elements (the pool's key).
    pub fn new(buf: Buffer<T>, len: usize, pool: &Arc<Pool<T>>) -> Self {
        DevBuf {
            buf: Some(buf),
            len,
            pool: Some(pool.clone()),
        }
    }

    /// A buffer released to the driver when dropped.
    pub fn unpooled(buf: Buffer<T>, len: usize) -> Self {
        DevBuf {
            buf: Some(buf),
            len,
            pool: None,
        }
    }
}

impl<T> Deref for DevBuf<T> {
    type Target = Buffer<T>;
    fn deref(&self) -> &Buffer<T> {
        self.buf.as_ref().expect("present until drop")
    }
}

impl<T> DerefMut for DevBuf<T> {
    fn deref_mut(&mut self) -> &mut Buffer<T> {
        self.buf.as_mut().expect("present until drop")
    }
}

impl<T> Drop for DevBuf<T> {
    fn drop(&mut self) {
        if let (Some(buf), Some(pool)) = (self.buf.take(), &self.pool) {
            pool.put(self.len, buf);
        }
    }
}

impl<T> fmt::Debug for DevBuf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevBuf({} elements)", self.len)
    }
}
