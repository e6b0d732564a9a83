//! Writes GGUF version 3 files (the test files of `hearth make-test-model --format gguf`):
//! metadata, tensor infos, then each tensor's bytes at the file's alignment.

use super::{DEFAULT_ALIGNMENT, GgmlType, Value};

#[derive(Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    /// (name, row-major shape, type, bytes)
    tensors: Vec<(String, Vec<usize>, GgmlType, Vec<u8>)>,
}

impl GgufWriter {
    pub fn set(&mut self, key: &str, value: Value) {
        self.metadata.push((key.to_string(), value));
    }

    /// `shape` row-major (outermost first), as the rest of hearth writes shapes.
    pub fn tensor(&mut self, name: &str, shape: &[usize], ty: GgmlType, bytes: Vec<u8>) {
        self.tensors
            .push((name.to_string(), shape.to_vec(), ty, bytes));
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let align = DEFAULT_ALIGNMENT as usize;
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            string(&mut out, key);
            out.extend((value.value_type() as u32).to_le_bytes());
            write_value(&mut out, value);
        }
        let mut offset = 0usize;
        for (name, shape, ty, bytes) in &self.tensors {
            string(&mut out, name);
            out.extend((shape.len() as u32).to_le_bytes());
            for &d in shape.iter().rev() {
                out.extend((d as u64).to_le_bytes());
            }
            out.extend(ty.id().to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offset += bytes.len().next_multiple_of(align);
        }
        out.resize(out.len().next_multiple_of(align), 0);
        for (_, _, _, bytes) in &self.tensors {
            out.extend(bytes);
            out.resize(out.len().next_multiple_of(align), 0);
        }
        out
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::U8(v) => out.push(*v),
        Value::I8(v) => out.push(*v as u8),
        Value::U16(v) => out.extend(v.to_le_bytes()),
        Value::I16(v) => out.extend(v.to_le_bytes()),
        Value::U32(v) => out.extend(v.to_le_bytes()),
        Value::I32(v) => out.extend(v.to_le_bytes()),
        Value::F32(v) => out.extend(v.to_le_bytes()),
        Value::Bool(v) => out.push(*v as u8),
        Value::String(v) => string(out, v),
        Value::U64(v) => out.extend(v.to_le_bytes()),
        Value::I64(v) => out.extend(v.to_le_bytes()),
        Value::F64(v) => out.extend(v.to_le_bytes()),
        Value::Array(array) => {
            out.extend((array.item_type() as u32).to_le_bytes());
            out.extend((array.len() as u64).to_le_bytes());
            for i in 0..array.len() {
                write_value(out, &array.get(i).expect("in range"));
            }
        }
    }
}
