//! Devices: where a tensor's value lives. `--device cpu|opencl|opencl:N|auto`
//! is parsed into a [`DeviceSpec`] and opened into a [`Device`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::opencl;
use crate::{Error, Result};

/// A device a tensor can live on. Cheap to clone (the OpenCL context is shared).
#[derive(Clone)]
pub enum Device {
    /// The CPU engine (ndarray, rayon): the reference.
    Cpu,
    /// One OpenCL device with its context, queue and built kernels.
    OpenCl(Arc<opencl::ClDevice>),
}

impl Device {
    /// "cpu", or "opencl:N (device name)".
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::OpenCl(d) => d.name(),
        }
    }

    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Cpu, Device::Cpu) => true,
            (Device::OpenCl(a), Device::OpenCl(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What `--device` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    Cpu,
    /// `opencl` (the first device of any type) or `opencl:N` (the N-th, as
    /// `dl-lab devices` numbers them).
    OpenCl(Option<usize>),
    /// An OpenCL GPU if there is one, else the CPU engine.
    #[default]
    Auto,
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let bad = || {
            Error::Config(format!(
                "unknown device {s:?}: --device takes cpu, opencl, opencl:N or auto"
            ))
        };
        match s.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "auto" => Ok(DeviceSpec::Auto),
            "opencl" => Ok(DeviceSpec::OpenCl(None)),
            _ => match s.strip_prefix("opencl:") {
                Some(n) => n
                    .parse()
                    .map(|n| DeviceSpec::OpenCl(Some(n)))
                    .map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::OpenCl(None) => f.write_str("opencl"),
            DeviceSpec::OpenCl(Some(n)) => write!(f, "opencl:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Open the device. For `auto`, the second value is a note to show once
    /// when it fell back to the CPU engine (why no OpenCL GPU was used).
    /// `opencl` with no driver or no device is an error saying how to get one.
    pub fn open(self) -> Result<(Device, Option<String>)> {
        match self {
            DeviceSpec::Cpu => Ok((Device::Cpu, None)),
            DeviceSpec::OpenCl(index) => Ok((Device::OpenCl(opencl::ClDevice::open(index)?), None)),
            DeviceSpec::Auto => match opencl::first_gpu() {
                Ok(Some(index)) => match opencl::ClDevice::open(Some(index)) {
                    Ok(d) => Ok((Device::OpenCl(d), None)),
                    Err(e) => Ok((
                        Device::Cpu,
                        Some(format!("device auto: using the CPU engine ({e})")),
                    )),
                },
                Ok(None) => Ok((
                    Device::Cpu,
                    Some("device auto: no OpenCL GPU found, using the CPU engine".into()),
                )),
                Err(e) => Ok((
                    Device::Cpu,
                    Some(format!("device auto: using the CPU engine ({e})")),
                )),
            },
        }
    }
}
