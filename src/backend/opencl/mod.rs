//! The OpenCL backend: device discovery, an opened device (context, one
//! in-order queue, the kernels built once), and [`ClStorage`], a row-major
//! f32 buffer implementing [`BackendStorage`](super::BackendStorage).
//!
//! - `kernels.rs`: the `cl/*.cl` sources and the kernel table
//! - `matmul.rs`: how `cl/matmul.cl`'s GEMM is launched
//! - `storage.rs`: the operations, each a few kernel launches and no host
//!   round trip; only [`ClStorage::to_host`] (and `ClIndices::to_host`) waits
//!   for the queue.
//!
//! opencl3 is built with its `dynamic` feature, so libOpenCL is loaded at run
//! time: without it (cl3's error -2000) or without any platform (-1001),
//! discovery returns an [`Error::OpenCl`] saying how to get a driver, and the
//! CPU engine carries on.
//!
//! Threads: opencl3's `Context`, `CommandQueue`, `Program` and `Buffer<f32>`
//! are `Send + Sync` (OpenCL's API is thread-safe except `clSetKernelArg` on
//! one kernel object); its `Kernel` is only `Send`, and each sits behind a
//! `Mutex` held from setting the first argument to the enqueue. So
//! [`ClDevice`] and [`ClStorage`] are `Send + Sync` without any `unsafe impl`.

mod conv;
mod elementwise;
mod kernels;
mod matmul;
mod optim;
mod pool;
mod pooling;
mod reduce;
mod storage;

use std::sync::Arc;

use opencl3::command_queue::CommandQueue;
use opencl3::context::Context;
use opencl3::device::{
    Device as RawDevice, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_ALL, CL_DEVICE_TYPE_CPU,
    CL_DEVICE_TYPE_CUSTOM, CL_DEVICE_TYPE_GPU, CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT,
};
use opencl3::error_codes::{
    ClError, CL_DEVICE_NOT_FOUND, CL_PLATFORM_NOT_FOUND_KHR, DLOPEN_FUNCTION_NOT_AVAILABLE,
    DLOPEN_RUNTIME_LOAD_FAILED,
};
use opencl3::kernel::Kernel as ClKernel;
use opencl3::memory::{Buffer, ClMem, CL_MEM_COPY_HOST_PTR, CL_MEM_READ_WRITE};
use opencl3::platform::get_platforms;
use opencl3::types::{cl_device_id, cl_mem, CL_BLOCKING};

pub use kernels::Kernel;
use pool::DevBuf;
pub use storage::{ClIndices, ClStorage};

use crate::{Error, Result};

/// How to get a driver, for every "no OpenCL" message.
const GET_A_DRIVER: &str = "install an OpenCL driver: your GPU vendor's, or for any CPU \
     Debian/Ubuntu's `pocl-opencl-icd` (with `ocl-icd-libopencl1`); `clinfo -l` should then list a device";

/// Map an opencl3 error at `stage` to ours.
pub(crate) fn cl_err(stage: &'static str) -> impl Fn(ClError) -> Error {
    move |e| Error::OpenCl {
        stage,
        message: format!("{e} ({})", e.0),
    }
}

/// One line of `dl-lab devices`.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    pub index: usize,
    pub platform: String,
    pub name: String,
    pub kind: String,
    pub compute_units: u32,
    pub memory_bytes: u64,
    pub version: String,
}

/// "GPU", "CPU", "accelerator", … (a device can be several).
fn kind_name(t: u64) -> String {
    let mut kinds = Vec::new();
    for (bit, name) in [
        (CL_DEVICE_TYPE_GPU, "GPU"),
        (CL_DEVICE_TYPE_CPU, "CPU"),
        (CL_DEVICE_TYPE_ACCELERATOR, "accelerator"),
        (CL_DEVICE_TYPE_CUSTOM, "custom"),
    ] {
        if t & bit != 0 {
            kinds.push(name);
        }
    }
    if kinds.is_empty() {
        "other".into()
    } else {
        kinds.join("+")
    }
}

/// Every device of every platform, in platform order, with its id.
fn discover() -> Result<Vec<(DeviceInfo, cl_device_id, u64)>> {
    let platforms = get_platforms().map_err(|e| Error::OpenCl {
        stage: "setup",
        message: match e.0 {
            DLOPEN_RUNTIME_LOAD_FAILED | DLOPEN_FUNCTION_NOT_AVAILABLE => {
                format!("no OpenCL library (libOpenCL.so.1) could be loaded ({e}); {GET_A_DRIVER}")
            }
            CL_PLATFORM_NOT_FOUND_KHR => format!(
                "libOpenCL is there but no OpenCL platform is installed ({e}, \
                 see /etc/OpenCL/vendors); {GET_A_DRIVER}"
            ),
            _ => format!(
                "listing OpenCL platforms failed: {e} ({}); {GET_A_DRIVER}",
                e.0
            ),
        },
    })?;
    if platforms.is_empty() {
        return Err(Error::OpenCl {
            stage: "setup",
            message: format!("no OpenCL platform is installed; {GET_A_DRIVER}"),
        });
    }
    let mut found = Vec::new();
    for platform in platforms {
        let platform_name = platform.name().unwrap_or_else(|_| "?".into());
        let ids = match platform.get_devices(CL_DEVICE_TYPE_ALL) {
            Ok(ids) => ids,
            // a platform without devices is not an error
            Err(e) if e.0 == CL_DEVICE_NOT_FOUND => Vec::new(),
            Err(e) => return Err(cl_err("list devices")(e)),
        };
        for id in ids {
            let d = RawDevice::new(id);
            let t = d.dev_type().map_err(cl_err("query device"))?;
            let info = DeviceInfo {
                index: found.len(),
                platform: platform_name.clone(),
                name: d.name().unwrap_or_else(|_| "?".into()).trim().to_string(),
                kind: kind_name(t),
                compute_units: d.max_compute_units().unwrap_or(0),
                memory_bytes: d.global_mem_size().unwrap_or(0),
                version: d.version().unwrap_or_default().trim().to_string(),
            };
            found.push((info, id, t));
        }
    }
    Ok(found)
}

/// Every OpenCL device of every platform, numbered as `opencl:N` takes them.
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    Ok(discover()?.into_iter().map(|(info, _, _)| info).collect())
}

/// The index of the first GPU, if any. Ok(None) when OpenCL works but has no
/// GPU (PoCL's CPU device, say); Err when there is no OpenCL at all.
pub fn first_gpu() -> Result<Option<usize>> {
    Ok(discover()?
        .into_iter()
        .find(|(_, _, t)| t & CL_DEVICE_TYPE_GPU != 0)
        .map(|(info, _, _)| info.index))
}

/// Work-group size for 1-D and plane kernels (clamped to what the device
/// allows): 256 suits GPUs; CPU devices (PoCL) run a work-group as one loop
/// on one thread, so larger groups spread the fixed cost of each.
const WORK_GROUP: usize = 256;
const WORK_GROUP_CPU: usize = 1024;

/// An opened device: context, one in-order queue, built kernels.
pub struct ClDevice {
    index: usize,
    name: String,
    context: Context,
    queue: CommandQueue,
    kernels: kernels::Kernels,
    /// 1-D work-group size
    wg: usize,
    pool_f32: Arc<pool::Pool<f32>>,
    pool_u32: Arc<pool::Pool<u32>>,
}

/// Element types with a buffer pool on each device.
pub(crate) trait Elem: Sized {
    fn pool(dev: &ClDevice) -> &Arc<pool::Pool<Self>>;
}

impl Elem for f32 {
    fn pool(dev: &ClDevice) -> &Arc<pool::Pool<f32>> {
        &dev.pool_f32
    }
}

impl Elem for u32 {
    fn pool(dev: &ClDevice) -> &Arc<pool::Pool<u32>> {
        &dev.pool_u32
    }
}

/// Free buffers kept for reuse, at most: a quarter of the device's memory,
/// and no more than 2 GiB.
fn pool_limit(memory_bytes: u64) -> usize {
    usize::try_from(memory_bytes / 4)
        .unwrap_or(usize::MAX)
        .min(2 << 30)
}

impl std::fmt::Debug for ClDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// One kernel argument.
#[derive(Clone, Copy)]
pub(crate) enum Arg<'a> {
    Mem(&'a Buffer<f32>),
    Idx(&'a Buffer<u32>),
    U(u32),
    I(i32),
    F(f32),
    /// an OpenCL `uint8` (eight dimensions or strides)
    V8([u32; 8]),
}

impl ClDevice {
    /// Open device `index` (as [`list_devices`] numbers them; None: the
    /// first of any type), building every kernel (about 0.5 s on PoCL).
    pub fn open(index: Option<usize>) -> Result<Arc<ClDevice>> {
        let devices = discover()?;
        if devices.is_empty() {
            return Err(Error::OpenCl {
                stage: "open",
                message: format!("OpenCL has platforms but no device; {GET_A_DRIVER}"),
            });
        }
        let wanted = index.unwrap_or(0);
        let Some((info, id, _)) = devices.get(wanted) else {
            return Err(Error::OpenCl {
                stage: "open",
                message: format!(
                    "there is no device opencl:{wanted}: found {} (opencl:0..{}); `dl-lab devices` lists them",
                    devices.len(),
                    devices.len() - 1
                ),
            });
        };
        let raw = RawDevice::new(*id);
        let context = Context::from_device(&raw).map_err(cl_err("create context"))?;
        let queue = match CommandQueue::create_default_with_properties(&context, 0, 0) {
            Ok(q) => q,
            // OpenCL 1.x drivers only have the older entry point
            #[allow(deprecated)]
            Err(_) => CommandQueue::create_default(&context, 0).map_err(cl_err("create queue"))?,
        };
        let mut options = String::new();
        if raw.single_fp_config().unwrap_or(0) & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT != 0 {
            // as the CPU's / and sqrt; OpenCL otherwise allows a few ulp
            options.push_str("-cl-fp32-correctly-rounded-divide-sqrt");
        }
        let kernels = kernels::Kernels::build(&context, &options)?;
        let wanted = if raw.dev_type().unwrap_or(0) & CL_DEVICE_TYPE_CPU != 0 {
            WORK_GROUP_CPU
        } else {
            WORK_GROUP
        };
        let wg = raw
            .max_work_group_size()
            .unwrap_or(WORK_GROUP)
            .clamp(1, wanted);
        let limit = pool_limit(info.memory_bytes);
        Ok(Arc::new(ClDevice {
            index: info.index,
            name: info.name.clone(),
            context,
            queue,
            kernels,
            wg,
            pool_f32: pool::Pool::new(limit),
            pool_u32: pool::Pool::new(limit),
        }))
    }

    /// Bytes held by free pooled buffers (diagnostics; a training loop keeps
    /// this flat once its first step has run).
    pub fn pooled_bytes(&self) -> usize {
        self.pool_f32.free_bytes() + self.pool_u32.free_bytes()
    }

    /// "opencl:N (device name)".
    pub fn name(&self) -> String {
        format!("opencl:{} ({})", self.index, self.name)
    }

    /// A buffer of `n` elements whose contents are unspecified: a pooled
    /// one of that length if any is free, else a new one (of at least one
    /// element: OpenCL refuses empty buffers).
    pub(crate) fn alloc<T: Elem>(&self, n: usize) -> Result<DevBuf<T>> {
        let pool = T::pool(self);
        if let Some(buf) = pool.take(n) {
            return Ok(DevBuf::new(buf, n, pool));
        }
        let create = || {
            // SAFETY: no host pointer is passed; the size is n (≥ 1) elements of T.
            unsafe {
                Buffer::<T>::create(
                    &self.context,
                    CL_MEM_READ_WRITE,
                    n.max(1),
                    std::ptr::null_mut(),
                )
            }
        };
        // Out of device memory with free buffers of other sizes held: give
        // them back to the driver and try once more.
        let buf = match create() {
            Ok(b) => b,
            Err(_) if pool.clear() > 0 => create().map_err(cl_err("allocate"))?,
            Err(e) => return Err(cl_err("allocate")(e)),
        };
        Ok(DevBuf::new(buf, n, pool))
    }

    /// A buffer holding a copy of `data`. A large one (an input batch) goes
    /// into a pooled buffer of its size when one is free, with a blocking
    /// write (one wait per batch); otherwise the driver copies `data` into a
    /// new buffer before this returns. A small one (a scalar constant) is
    /// never pooled: a blocking write per constant would drain the queue at
    /// every `x * 2`, and pooling buffers of sizes nothing else allocates
    /// only grows the pool.
    pub(crate) fn upload(&self, data: &[f32]) -> Result<DevBuf<f32>> {
        /// Below this many elements an upload gets a fresh, unpooled buffer.
        const POOLED_UPLOAD: usize = 1024;
        if data.is_empty() {
            return self.alloc(0);
        }
        if data.len() >= POOLED_UPLOAD {
            if let Some(mut buf) = self.pool_f32.take(data.len()) {
                // SAFETY: a blocking write of data.len() f32 from a live slice
                // into a buffer of that length; it returns once the data is copied.
                unsafe {
                    self.queue
                        .enqueue_write_buffer(&mut buf, CL_BLOCKING, 0, data, &[])
                }
                .map_err(cl_err("upload"))?;
                return Ok(DevBuf::new(buf, data.len(), &self.pool_f32));
            }
        }
        // SAFETY: CL_MEM_COPY_HOST_PTR reads data.len() f32 from the pointer
        // during the call and keeps no reference to it; the driver does not write it.
        let buf = unsafe {
            Buffer::<f32>::create(
                &self.context,
                CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                data.len(),
                data.as_ptr() as *mut std::ffi::c_void,
            )
        }
        .map_err(cl_err("upload"))?;
        if data.len() >= POOLED_UPLOAD {
            Ok(DevBuf::new(buf, data.len(), &self.pool_f32))
        } else {
            Ok(DevBuf::unpooled(buf, data.len()))
        }
    }

    /// `n` zeros.
    pub(crate) fn zeros(&self, n: usize) -> Result<DevBuf<f32>> {
        let mut buf = self.alloc(n)?;
        self.fill(&mut buf, n, 0.0)?;
        Ok(buf)
    }

    pub(crate) fn fill(&self, buf: &mut Buffer<f32>, n: usize, value: f32) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        // SAFETY: the buffer holds at least n f32; the pattern is read during the call.
        unsafe {
            self.queue
                .enqueue_fill_buffer(buf, &[value], 0, n * std::mem::size_of::<f32>(), &[])
        }
        .map_err(cl_err("fill"))?;
        Ok(())
    }

    /// Copy n elements (queued, no wait).
    pub(crate) fn copy(&self, src: &Buffer<f32>, dst: &mut Buffer<f32>, n: usize) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        // SAFETY: both buffers hold at least n f32.
        unsafe {
            self.queue
                .enqueue_copy_buffer(src, dst, 0, 0, n * std::mem::size_of::<f32>(), &[])
        }
        .map_err(cl_err("copy"))?;
        Ok(())
    }

    /// Read n values back, waiting for every queued command that writes them
    /// (the queue is in order, so for everything queued before).
    pub(crate) fn read<T: Default + Clone>(&self, buf: &Buffer<T>, n: usize) -> Result<Vec<T>> {
        let mut out = vec![T::default(); n];
        if n == 0 {
            return Ok(out);
        }
        // SAFETY: blocking read of n elements of T into a slice of n elements.
        unsafe {
            self.queue
                .enqueue_read_buffer(buf, CL_BLOCKING, 0, &mut out, &[])
        }
        .map_err(cl_err("read back"))?;
        Ok(out)
    }

    /// Launch a 1-D kernel over `n` work items (rounded up to the work-group
    /// size; every kernel checks its index). Nothing is launched for n = 0.
    pub(crate) fn launch1(&self, k: Kernel, args: &[Arg<'_>], n: usize) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let global = n.div_ceil(self.wg) * self.wg;
        self.launch(k, args, &[global], Some(&[self.wg]))
    }

    /// Launch a plane kernel: `planes` planes of `rows` rows of `inner`
    /// elements, as a 3-D range (column, row, plane) with one work item per
    /// element. A work-group is one plane deep (so what a kernel computes
    /// from the plane index is uniform over the group, and a CPU driver
    /// computes it once per group), `inner` rounded up to a power of two
    /// columns wide (at most 64; PoCL vectorises the loop over a group's
    /// columns, which it does not for a trip count like 14) and as many rows
    /// as fill it (the range rounded up). The kernels check the column and row. Nothing is
    /// launched when any count is 0.
    pub(crate) fn launch_planes(
        &self,
        k: Kernel,
        args: &[Arg<'_>],
        planes: usize,
        rows: usize,
        inner: usize,
    ) -> Result<()> {
        if planes == 0 || rows == 0 || inner == 0 {
            return Ok(());
        }
        let lx = inner.next_power_of_two().min(64).min(self.wg);
        let ly = rows.min((self.wg / lx).max(1));
        self.launch(
            k,
            args,
            &[inner.div_ceil(lx) * lx, rows.div_ceil(ly) * ly, planes],
            Some(&[lx, ly, 1]),
        )
    }

    /// Set the arguments and enqueue `k` (no wait).
    pub(crate) fn launch(
        &self,
        k: Kernel,
        args: &[Arg<'_>],
        global: &[usize],
        local: Option<&[usize]>,
    ) -> Result<()> {
        if global.contains(&0) {
            return Ok(());
        }
        let err = |e: ClError| Error::OpenCl {
            stage: "launch",
            message: format!("{}: {e} ({})", k.source().1, e.0),
        };
        // Held until the enqueue has copied the arguments: clSetKernelArg on
        // one kernel object from two threads would race.
        let kernel = self.kernels.get(k).lock().map_err(|_| Error::OpenCl {
            stage: "launch",
            message: format!("{}: an earlier launch panicked", k.source().1),
        })?;
        for (i, a) in args.iter().enumerate() {
            set_arg(&kernel, i as u32, a).map_err(err)?;
        }
        if let Some(l) = local {
            debug_assert_eq!(l.len(), global.len());
        }
        // SAFETY: the kernel's arguments were all set above (the counts are
        // fixed by the .cl files and checked by the parity tests); the work
        // sizes point at `global.len()` values each.
        unsafe {
            self.queue.enqueue_nd_range_kernel(
                kernel.get(),
                global.len() as u32,
                std::ptr::null(),
                global.as_ptr(),
                local.map_or(std::ptr::null(), |l| l.as_ptr()),
                &[],
            )
        }
        .map_err(err)?;
        Ok(())
    }

    /// Wait until every queued command has finished (benchmarks; results
    /// never need it, reading one back waits for what it depends on).
    pub fn synchronize(&self) -> Result<()> {
        self.queue.finish().map_err(cl_err("finish"))
    }
}

fn set_arg(kernel: &ClKernel, i: u32, a: &Arg<'_>) -> std::result::Result<(), ClError> {
    // SAFETY: each value has the size and layout of the OpenCL C parameter it
    // is declared to fill (cl_mem for buffers, cl_uint/cl_int/cl_float, and
    // uint8 as [u32; 8]).
    unsafe {
        match a {
            Arg::Mem(b) => kernel.set_arg(i, &(b.get() as cl_mem)),
            Arg::Idx(b) => kernel.set_arg(i, &(b.get() as cl_mem)),
            Arg::U(v) => kernel.set_arg(i, v),
            Arg::I(v) => kernel.set_arg(i, v),
            Arg::F(v) => kernel.set_arg(i, v),
            Arg::V8(v) => kernel.set_arg(i, v),
        }
    }
}
