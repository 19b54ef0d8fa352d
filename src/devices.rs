//! `dl-lab devices`: the OpenCL platforms and devices `--device` can use,
//! numbered as `opencl:N` takes them, or, when there are none, why and how to
//! get one. Either way the CPU engine is there.

use crate::backend::opencl::{self, DeviceInfo};
use crate::Result;

/// How to get an OpenCL device on any machine.
pub const GET_A_DEVICE: &str =
    "To get one: install your GPU vendor's OpenCL driver, or for any CPU \
     on Debian/Ubuntu: apt-get install pocl-opencl-icd (`clinfo -l` then lists it).";

/// "7.6 GiB", "512 MiB".
pub fn format_memory(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mib = bytes as f64 / MIB;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// The report for what discovery found (or why it failed).
pub fn report_from(found: Result<Vec<DeviceInfo>>) -> Vec<String> {
    let devices = match found {
        Ok(d) if !d.is_empty() => d,
        Ok(_) => return none("OpenCL is installed but has no device"),
        Err(e) => return none(&e.to_string()),
    };
    let mut lines = Vec::new();
    let mut platform: Option<&str> = None;
    for d in &devices {
        if platform != Some(d.platform.as_str()) {
            platform = Some(&d.platform);
            lines.push(format!("OpenCL platform: {}", d.platform));
        }
        lines.push(format!(
            "  opencl:{:<3} {}  [{}, {} compute units, {}, {}]",
            d.index,
            d.name,
            d.kind,
            d.compute_units,
            format_memory(d.memory_bytes),
            d.version
        ));
    }
    lines.push(String::new());
    lines.push(
        "Use one with --device opencl:N (e.g. `dl-lab run cnn-mnist --device opencl:0`).".into(),
    );
    let gpu = devices.iter().find(|d| d.kind.contains("GPU"));
    lines.push(match gpu {
        Some(d) => format!(
            "--device auto (the default) uses the first GPU, opencl:{}.",
            d.index
        ),
        None => {
            "--device auto (the default) uses the CPU engine here: none of these is a GPU.".into()
        }
    });
    lines
}

fn none(why: &str) -> Vec<String> {
    vec![
        "No OpenCL device found.".into(),
        format!("  why: {why}"),
        "dl-lab runs on its CPU engine (--device cpu; --device auto falls back to it).".into(),
        GET_A_DEVICE.into(),
    ]
}

/// The report for this machine.
pub fn report() -> Vec<String> {
    report_from(opencl::list_devices())
}
