//! What a name can hold in the course's tensor code: Python's numbers,
//! strings, lists and tuples, `torch.Size`, and tensors (the engine's
//! [`Tensor`], with the dtype PyTorch would give it and whether it is a numpy
//! array).

use crate::engine::tensor::Array;
use crate::Tensor;

/// The element types the course uses. Values are held as f32 in the engine;
/// the dtype says how they print and combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Float,
    Long,
    Bool,
    Uint8,
}

impl DType {
    pub fn name(self, numpy: bool) -> &'static str {
        match (self, numpy) {
            (DType::Float, false) => "torch.float32",
            (DType::Long, false) => "torch.int64",
            (DType::Bool, false) => "torch.bool",
            (DType::Uint8, false) => "torch.uint8",
            (DType::Float, true) => "float64",
            (DType::Long, true) => "int64",
            (DType::Bool, true) => "bool",
            (DType::Uint8, true) => "uint8",
        }
    }

    /// The dtype of `a op b` for arithmetic: float wins, else integers.
    pub fn promote(a: DType, b: DType) -> DType {
        match (a, b) {
            (DType::Float, _) | (_, DType::Float) => DType::Float,
            (DType::Long, _) | (_, DType::Long) => DType::Long,
            (DType::Uint8, _) | (_, DType::Uint8) => DType::Uint8,
            _ => DType::Long,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TensorValue {
    pub t: Tensor,
    pub dtype: DType,
    /// Made by `np.array`: prints as numpy does, indexes to Python numbers.
    pub numpy: bool,
}

impl TensorValue {
    pub fn new(t: Tensor, dtype: DType, numpy: bool) -> TensorValue {
        let t = if dtype == DType::Float {
            t
        } else {
            // integers and booleans hold whole numbers
            let a = t.to_array().mapv(|v| match dtype {
                DType::Bool => (v != 0.0) as u8 as f32,
                DType::Uint8 => (v.trunc() as i64).rem_euclid(256) as f32,
                _ => v.trunc(),
            });
            Tensor::new(a)
        };
        TensorValue { t, dtype, numpy }
    }

    pub fn from_array(a: Array, dtype: DType, numpy: bool) -> TensorValue {
        TensorValue::new(Tensor::new(a), dtype, numpy)
    }

    pub fn shape(&self) -> Vec<usize> {
        self.t.shape()
    }

    pub fn values(&self) -> Vec<f64> {
        self.t.to_vec().into_iter().map(f64::from).collect()
    }

    pub fn array(&self) -> Array {
        self.t.to_array()
    }

    /// The single value as a Python number.
    pub fn scalar(&self) -> Value {
        let v = f64::from(self.t.to_vec()[0]);
        match self.dtype {
            DType::Float => Value::Float(v),
            DType::Bool => Value::Bool(v != 0.0),
            DType::Long | DType::Uint8 => Value::Int(v as i64),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// `torch.Size([2, 3])`; a numpy shape is a tuple of ints instead.
    Size(Vec<usize>),
    Tensor(TensorValue),
    /// `torch` or `np`
    Module(&'static str),
    /// `t.dtype`; true for a numpy dtype
    Dtype(DType, bool),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Size(_) => "torch.Size",
            Value::Tensor(t) if t.numpy => "numpy.ndarray",
            Value::Tensor(_) => "Tensor",
            Value::Module(_) => "module",
            Value::Dtype(..) => "dtype",
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(*b as u8 as f64),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            Value::Tensor(t) if t.t.numel() == 1 && t.dtype != DType::Float => match t.scalar() {
                Value::Int(i) => Some(i),
                Value::Bool(b) => Some(b as i64),
                _ => None,
            },
            _ => None,
        }
    }
}
