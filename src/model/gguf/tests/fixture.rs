//! The fixture's blocks dequantize to exactly what gguf.quants.dequantize computed, and its
//! metadata reads back as gguf-py wrote it.

use super::super::{Array, GgmlType, Gguf, Value, ValueType, dequantize};
use super::{NAME, fixture};

#[test]
fn blocks_match_gguf_py_bit_for_bit() {
    let bytes = fixture();
    let gguf = Gguf::parse(NAME, &bytes).unwrap();
    let types = gguf.get_str_array("test.types").unwrap();
    // gguf 0.19.0 cannot dequantize Q8_K; its unit test in dequant.rs stands in.
    let untested: Vec<_> = GgmlType::ALL
        .into_iter()
        .filter(|ty| !types.iter().any(|t| t == ty.name()))
        .collect();
    assert_eq!(untested, [GgmlType::Q8_K]);

    for name in types {
        let blocks = gguf.tensor(&format!("blocks.{name}")).unwrap();
        let expected = gguf.tensor(&format!("expected.{name}")).unwrap();
        assert_eq!(blocks.ty.name(), name);
        assert_eq!(expected.ty, GgmlType::F32);
        assert_eq!(blocks.dims, expected.dims, "{name}");
        assert_eq!(blocks.dims.len(), 2);

        let want: Vec<f32> = gguf
            .tensor_data(&bytes, &expected.name)
            .unwrap()
            .as_chunks::<4>()
            .0
            .iter()
            .map(|&b| f32::from_le_bytes(b))
            .collect();
        let mut got = vec![f32::NAN; blocks.elements() as usize];
        gguf.dequantize_tensor(&bytes, &blocks.name, &mut got)
            .unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "{name} value {i}: {g} != {w}");
        }

        // Row by row gives the same values.
        let data = gguf.tensor_data(&bytes, &blocks.name).unwrap();
        let row_len = blocks.row_len() as usize;
        let mut row = vec![0.0; row_len];
        for (r, raw) in data.chunks_exact(blocks.row_bytes()).enumerate() {
            dequantize(blocks.ty, raw, &mut row).unwrap();
            assert_eq!(row, got[r * row_len..(r + 1) * row_len], "{name} row {r}");
        }
        assert_eq!(data.len(), blocks.row_bytes() * blocks.rows() as usize);
    }
}

#[test]
fn header_layout() {
    let bytes = fixture();
    let gguf = Gguf::parse(NAME, &bytes).unwrap();
    assert_eq!(gguf.file(), NAME);
    assert_eq!(gguf.version(), 3);
    assert_eq!(gguf.alignment(), 64);
    assert_eq!(gguf.data_start() % 64, 0);
    assert_eq!(gguf.architecture().unwrap(), "test");
    let q4k = gguf.tensor("blocks.Q4_K").unwrap();
    // gguf-py's numpy shape (2, 1024) is written innermost first.
    assert_eq!(q4k.dims, [1024, 2]);
    assert_eq!(q4k.shape(), [2, 1024]);
    assert_eq!((q4k.row_len(), q4k.rows(), q4k.elements()), (1024, 2, 2048));
    assert_eq!(q4k.byte_len(), 8 * 144);
    for t in gguf.tensors() {
        assert_eq!(t.offset % 64, 0, "{}", t.name);
        assert_eq!(t.range().start as u64, gguf.data_start() + t.offset);
    }
    let last = gguf.tensors().iter().map(|t| t.range().end).max().unwrap();
    assert!(last <= bytes.len());
}

#[test]
fn metadata_values() {
    let bytes = fixture();
    let g = Gguf::parse(NAME, &bytes).unwrap();
    let value = |key: &str| g.get(key).unwrap_or_else(|| panic!("{key}")).clone();
    assert_eq!(value("test.u8"), Value::U8(200));
    assert_eq!(value("test.i8"), Value::I8(-100));
    assert_eq!(value("test.u16"), Value::U16(60000));
    assert_eq!(value("test.i16"), Value::I16(-30000));
    assert_eq!(value("test.u32"), Value::U32(4_000_000_000));
    assert_eq!(value("test.i32"), Value::I32(-2_000_000_000));
    assert_eq!(value("test.f32"), Value::F32(3.25));
    assert_eq!(value("test.bool"), Value::Bool(true));
    assert_eq!(
        value("test.string"),
        Value::String("h\u{e9}llo, w\u{f6}rld \u{2713}".into())
    );
    assert_eq!(value("test.u64"), Value::U64((1 << 63) + 5));
    assert_eq!(value("test.i64"), Value::I64(-(1 << 62) - 7));
    assert_eq!(value("test.f64"), Value::F64(0.1));
    assert_eq!(value("general.alignment"), Value::U32(64));

    let array = |key: &str| g.get_array(key).unwrap().clone();
    assert_eq!(array("test.array.u8"), Array::U8(vec![1, 2, 255]));
    assert_eq!(array("test.array.i16"), Array::I16(vec![-3, 0, 32767]));
    assert_eq!(array("test.array.u64"), Array::U64(vec![0, u64::MAX]));
    assert_eq!(array("test.array.i32"), Array::I32(vec![7, -8, 9]));
    assert_eq!(array("test.array.f32"), Array::F32(vec![0.5, -1.25, 1e-3]));
    assert_eq!(array("test.array.f64"), Array::F64(vec![0.1, -2.5]));
    assert_eq!(
        array("test.array.bool"),
        Array::Bool(vec![true, false, true])
    );
    assert_eq!(
        g.get_str_array("test.array.string").unwrap(),
        ["a", "b\u{e9}", "", "tokens \u{2581}like"]
    );
    assert_eq!(
        array("test.array.nested"),
        Array::Array(vec![Array::I32(vec![1, 2]), Array::I32(vec![3, 4, 5])])
    );
    let strings = |v: &[&str]| Array::String(v.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        array("test.array.nested_strings"),
        Array::Array(vec![strings(&["x", "y"]), strings(&["z"])])
    );
    assert_eq!(
        array("test.array.deep"),
        Array::Array(vec![
            Array::Array(vec![Array::F32(vec![1.5])]),
            Array::Array(vec![Array::F32(vec![2.5, 3.5])]),
        ])
    );

    // The typed lookups and the value getters.
    assert_eq!(g.get_u32("test.u8").unwrap(), 200);
    assert_eq!(g.get_u32("test.u32").unwrap(), 4_000_000_000);
    assert_eq!(g.get_i32("test.i16").unwrap(), -30000);
    assert_eq!(g.get_u64("test.u64").unwrap(), (1 << 63) + 5);
    assert_eq!(g.get_i64("test.i64").unwrap(), -(1 << 62) - 7);
    assert_eq!(g.get_f32("test.f32").unwrap(), 3.25);
    assert_eq!(g.get_f64("test.f64").unwrap(), 0.1);
    assert_eq!(g.get_f32("test.f64").unwrap(), 0.1f32);
    assert!(g.get_bool("test.bool").unwrap());
    assert_eq!(
        g.get_str("test.string").unwrap(),
        "h\u{e9}llo, w\u{f6}rld \u{2713}"
    );
    assert_eq!(value("test.i8").as_i64(), Some(-100));
    assert_eq!(value("test.i8").as_u64(), None);
    assert_eq!(value("test.u64").as_i64(), None);
    assert_eq!(value("test.f32").as_f64(), Some(3.25));
    assert_eq!(value("test.u8").as_f64(), None);
    let nested = value("test.array.nested");
    let nested = nested.as_array().unwrap();
    assert_eq!(nested.item_type(), ValueType::Array);
    assert_eq!(nested.len(), 2);
    assert_eq!(
        nested.as_arrays().unwrap()[1].to_i64s(),
        Some(vec![3, 4, 5])
    );
    assert_eq!(nested.get(0), Some(Value::Array(Array::I32(vec![1, 2]))));
    assert_eq!(
        array("test.array.f32").as_f32s(),
        Some(&[0.5, -1.25, 1e-3][..])
    );

    // Every key gguf-py wrote, in its order, and nothing else.
    let keys: Vec<&str> = g.metadata().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys[..2], ["general.architecture", "general.alignment"]);
    assert_eq!(keys.len(), 2 + 12 + 11 + 1);
}
