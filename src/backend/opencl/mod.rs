//! stub for testing the CPU refactor in isolation
use std::sync::Arc;
use super::{BackendStorage, BinaryOp, ConvGeometry, Device, UnaryOp, UpdateRule};
use crate::engine::Array;
use crate::{Error, Result};
fn unavailable<T>() -> Result<T> { Err(Error::OpenCl { stage: "setup", message: "stub".into() }) }
#[derive(Debug, Clone)]
pub struct DeviceInfo { pub index: usize, pub platform: String, pub name: String, pub kind: String, pub compute_units: u32, pub memory_bytes: u64, pub version: String }
pub fn list_devices() -> Result<Vec<DeviceInfo>> { unavailable() }
pub fn first_gpu() -> Result<Option<usize>> { unavailable() }
#[derive(Debug)]
pub struct ClDevice { index: usize, name: String }
impl ClDevice { pub fn open(_index: Option<usize>) -> Result<Arc<ClDevice>> { unavailable() } pub fn name(&self) -> String { format!("opencl:{} ({})", self.index, self.name) } }
#[derive(Debug)]
pub struct ClStorage { device: Arc<ClDevice>, shape: Vec<usize> }
#[derive(Debug)]
pub struct ClIndices { len: usize }
impl ClIndices { pub fn to_host(&self) -> Result<Vec<usize>> { let _ = self.len; unavailable() } }
impl ClStorage { pub fn from_host(_d: &Arc<ClDevice>, _v: &Array) -> Result<ClStorage> { unavailable() } pub fn cl_device(&self) -> &Arc<ClDevice> { &self.device } }
impl BackendStorage for ClStorage {
    type Indices = ClIndices;
    fn shape(&self) -> &[usize] { &self.shape }
    fn device(&self) -> Device { Device::OpenCl(self.device.clone()) }
    fn to_host(&self) -> Result<Array> { unavailable() }
    fn reshape(self, _s: &[usize]) -> Result<Self> { unavailable() }
    fn zeros_like(&self, _s: &[usize]) -> Result<Self> { unavailable() }
    fn try_clone(&self) -> Result<Self> { unavailable() }
    fn unary(&self, _o: UnaryOp) -> Result<Self> { unavailable() }
    fn unary_backward(&self, _g: Self, _o: UnaryOp) -> Result<Self> { unavailable() }
    fn binary(&self, _r: &Self, _o: BinaryOp, _s: &[usize]) -> Result<Self> { unavailable() }
    fn add_assign(&mut self, _r: &Self) -> Result<()> { unavailable() }
    fn sum_to_shape(&self, _s: &[usize]) -> Result<Self> { unavailable() }
    fn broadcast_to(&self, _s: &[usize]) -> Result<Self> { unavailable() }
    fn sum_axes(&self, _a: &[usize], _k: bool) -> Result<Self> { unavailable() }
    fn max_dim(&self, _a: usize, _k: bool) -> Result<(Self, ClIndices)> { unavailable() }
    fn scatter_add(&self, _i: &ClIndices, _s: &[usize]) -> Result<Self> { unavailable() }
    fn log_softmax(&self, _a: usize) -> Result<Self> { unavailable() }
    fn log_softmax_backward(&self, _g: &Self, _a: usize) -> Result<Self> { unavailable() }
    fn permute(&self, _a: &[usize]) -> Result<Self> { unavailable() }
    fn matmul(&self, _r: &Self, _a: bool, _b: bool) -> Result<Self> { unavailable() }
    fn conv2d(&self, _w: &Self, _g: &ConvGeometry) -> Result<Self> { unavailable() }
    fn conv2d_backward(&self, _w: &Self, _g: &Self, _ge: &ConvGeometry, _x: bool, _ww: bool) -> Result<(Option<Self>, Option<Self>)> { unavailable() }
    fn max_pool2d(&self, _k: usize, _s: usize) -> Result<(Self, ClIndices)> { unavailable() }
    fn avg_pool2d(&self, _k: usize, _s: usize) -> Result<Self> { unavailable() }
    fn avg_pool2d_backward(&self, _i: &[usize], _k: usize, _s: usize) -> Result<Self> { unavailable() }
    fn update(&mut self, _g: &Self, _s: &mut [Self], _r: &UpdateRule) -> Result<()> { unavailable() }
}
