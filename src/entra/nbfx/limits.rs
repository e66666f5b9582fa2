//! Resource limits: the bounds hostile input cannot push the codec past.

use std::fmt;

/// Which resource limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    InputSize,
    Depth,
    StringLength,
    Elements,
    Attributes,
    ArrayItems,
    DecodedSize,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::InputSize => "input size in bytes",
            LimitKind::Depth => "element nesting depth",
            LimitKind::StringLength => "string length in bytes",
            LimitKind::Elements => "number of elements",
            LimitKind::Attributes => "number of attributes on one element",
            LimitKind::ArrayItems => "number of items in one array record",
            LimitKind::DecodedSize => "total decoded text size in bytes",
        })
    }
}

/// Bounds that hostile input cannot push the codec past (the role of .NET's reader quotas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest msbin1 (or XML) input accepted.
    pub max_input_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Longest single string, text or byte run.
    pub max_string_bytes: usize,
    /// Most elements in one document, array items included.
    pub max_elements: usize,
    /// Most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    /// Most items in one Array record.
    pub max_array_items: usize,
    /// Most bytes of names and text in the decoded tree: bounds the amplification of dictionary
    /// references and array records, whose output is larger than their input.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    /// Generous for this service (a batch with photos is a few MB), small enough that a hostile
    /// peer cannot exhaust memory.
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 << 20,
            max_depth: 64,
            max_string_bytes: 16 << 20,
            max_elements: 1_000_000,
            max_attributes: 256,
            max_array_items: 100_000,
            max_decoded_bytes: 256 << 20,
        }
    }
}
