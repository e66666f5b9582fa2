//! msbin1: .NET Binary XML ([MC-NBFX] records with the [MC-NBFS] static dictionary), the body
//! format of the sync API.
//!
//! * [`Element`] / [`Attribute`] / [`Node`]: the tree SOAP messages are built from and read
//!   into; [`ElementRef`] resolves namespaces on it.
//! * [`decode`] / [`decode_with_limits`]: msbin1 → tree. Every record type, typed records as
//!   their canonical .NET text, hostile input bounded by [`Limits`].
//! * [`encode`]: tree → msbin1 in the profile .NET's writer emits.
//! * [`to_xml`] / [`to_xml_pretty`] / [`from_xml`] / [`from_xml_ignoring_layout`]: XML text.

mod dictionary;
mod dom;
mod error;
mod limits;
mod reader;
mod records;
mod scope;
mod stream;
mod text;
mod typed;
mod writer;

pub use dom::{Attribute, Element, ElementRef, Node, XML_NAMESPACE};
pub use error::{Location, NbfxError};
pub use limits::{LimitKind, Limits};
pub use reader::{decode, decode_split, decode_split_ranges, decode_with_limits};
pub use stream::SplitStream;
pub use text::{from_xml, from_xml_ignoring_layout, from_xml_with_limits, to_xml, to_xml_pretty};
pub use writer::encode;

/// Namespace URIs the SOAP layer needs, spelled once.
pub mod ns {
    pub const SOAP_ENVELOPE: &str = "http://www.w3.org/2003/05/soap-envelope";
    pub const ADDRESSING: &str = "http://www.w3.org/2005/08/addressing";
    pub const ADDRESSING_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";
    pub const XML_SCHEMA_INSTANCE: &str = "http://www.w3.org/2001/XMLSchema-instance";
    pub const XML_SCHEMA: &str = "http://www.w3.org/2001/XMLSchema";
    pub const SERIALIZATION_ARRAYS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
}
