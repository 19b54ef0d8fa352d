//! Helpers shared by the test files: skipping (with the reason shown) when
//! something outside the repository is missing, finding `../shared`, temp
//! directories, and (in [`tui`]) driving and drawing the lab.

#![allow(dead_code)] // each test file uses what it needs

use std::path::{Path, PathBuf};

pub mod tui;

/// Why a test skips, written past the test harness's output capture so a
/// plain `cargo test` shows it.
macro_rules! skip_note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Whether `DL_LAB_REQUIRE_<what>=1` turns a skip into a failure (CI sets them).
pub fn required(what: &str) -> bool {
    std::env::var(format!("DL_LAB_REQUIRE_{what}")).is_ok_and(|v| v == "1")
}

/// `../shared/<sub>` next to the crate, if it exists. When it does not, the test prints why it
/// skips and gets `None`, unless `DL_LAB_REQUIRE_SHARED=1` (as on CI), which makes it panic.
pub fn shared_dir(sub: &str) -> Option<PathBuf> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = crate_dir
        .parent()
        .expect("the crate has a parent directory")
        .join("shared")
        .join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    if required("SHARED") {
        panic!(
            "{} is missing and DL_LAB_REQUIRE_SHARED=1 requires it",
            dir.display()
        );
    }
    skip_note!(
        "skipping: {} not found (set DL_LAB_REQUIRE_SHARED=1 to make this an error)",
        dir.display()
    );
    None
}

/// A fresh empty directory under the system temp dir (named after the test),
/// removed on drop: a thin wrapper over [`tempfile::TempDir`].
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("dl-lab-test-{name}-"))
            .tempdir()
            .expect("create temp dir");
        TempDir(dir)
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        self.0.path()
    }

    /// `name` inside the directory (not created).
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, bytes).expect("write temp file");
        path
    }

    pub fn path(&self) -> &str {
        self.dir().to_str().expect("UTF-8 temp path")
    }
}

/// The first OpenCL device (`opencl:0`), opened once per test binary. When
/// there is none (no driver, no platform, no device), the test prints why it
/// skips and gets `None`, unless `DL_LAB_REQUIRE_OPENCL=1` (as on CI), which
/// makes it panic. Debian's `pocl-opencl-icd` gives a CPU device anywhere.
/// A device that exists but fails to open (a kernel that does not build) is
/// a failure, never a skip.
pub fn opencl_device() -> Option<dl_lab::backend::Device> {
    use dl_lab::backend::{opencl, Device};
    use std::sync::OnceLock;
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    let opened = DEVICE.get_or_init(|| match opencl::list_devices() {
        Ok(list) if !list.is_empty() => match opencl::ClDevice::open(None) {
            Ok(d) => Ok(Device::OpenCl(d)),
            Err(e) => panic!(
                "OpenCL device {:?} exists but does not open: {e}",
                list[0].name
            ),
        },
        Ok(_) => Err("OpenCL has no device".into()),
        Err(e) => Err(e.to_string()),
    });
    match opened {
        Ok(d) => Some(d.clone()),
        Err(why) if required("OPENCL") => {
            panic!("no OpenCL device and DL_LAB_REQUIRE_OPENCL=1 requires one: {why}")
        }
        Err(why) => {
            skip_note!(
                "no OpenCL device: skipped ({why}; set DL_LAB_REQUIRE_OPENCL=1 to make this an error)"
            );
            None
        }
    }
}
