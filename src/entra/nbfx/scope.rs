//! Well-formedness of start tags, shared by the msbin1 reader, the msbin1 writer and the XML
//! bridge: valid names, no duplicate attributes, reserved prefixes left alone, every prefix
//! declared. The .NET reader enforces the same, so a tree that passes here is one the service
//! accepts, and anything the writer emits decodes again.

use super::dom::{Element, XML_NAMESPACE};
use super::error::{Location, NbfxError, clip};
use super::records::is_ncname;

/// The prefixes declared by the open elements, innermost last.
#[derive(Debug, Default)]
pub(crate) struct PrefixScope {
    declared: Vec<String>,
    marks: Vec<usize>,
}

impl PrefixScope {
    /// Checks `element`'s start tag and brings its declarations into scope (until [`close`]).
    ///
    /// [`close`]: PrefixScope::close
    pub(crate) fn open(&mut self, element: &Element, at: &dyn Fn() -> Location) -> Result<(), NbfxError> {
        check_names(element, at)?;
        check_duplicates(element, at)?;
        self.marks.push(self.declared.len());
        for (prefix, _) in element.namespace_declarations() {
            if !prefix.is_empty() {
                self.declared.push(prefix.to_owned());
            }
        }
        let undeclared = std::iter::once(element.prefix.as_str())
            .chain(element.attributes.iter().filter(|a| a.declared_prefix().is_none()).map(|a| a.prefix.as_str()))
            .find(|p| !self.is_declared(p));
        match undeclared {
            Some(prefix) => {
                self.close();
                Err(NbfxError::UndeclaredPrefix { prefix: clip(prefix), at: at() })
            }
            None => Ok(()),
        }
    }

    /// Drops the declarations of the innermost open element.
    pub(crate) fn close(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.declared.truncate(mark);
        }
    }

    fn is_declared(&self, prefix: &str) -> bool {
        prefix.is_empty() || prefix == "xml" || self.declared.iter().rev().any(|p| p == prefix)
    }
}

fn check_names(element: &Element, at: &dyn Fn() -> Location) -> Result<(), NbfxError> {
    let invalid = |name: &str| NbfxError::InvalidName { name: clip(name), at: at() };
    if !is_ncname(&element.name) {
        return Err(invalid(&element.name));
    }
    if !element.prefix.is_empty() && !is_ncname(&element.prefix) {
        return Err(invalid(&element.prefix));
    }
    if element.prefix == "xmlns" {
        return Err(NbfxError::ReservedPrefix { prefix: element.prefix.clone(), at: at() });
    }
    for attribute in &element.attributes {
        if !is_ncname(&attribute.name) {
            return Err(invalid(&attribute.name));
        }
        if !attribute.prefix.is_empty() && !is_ncname(&attribute.prefix) {
            return Err(invalid(&attribute.prefix));
        }
        match attribute.declared_prefix() {
            Some("xmlns") => return Err(NbfxError::ReservedPrefix { prefix: "xmlns".into(), at: at() }),
            Some("xml") if attribute.value != XML_NAMESPACE => {
                return Err(NbfxError::ReservedPrefix { prefix: "xml".into(), at: at() });
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_duplicates(element: &Element, at: &dyn Fn() -> Location) -> Result<(), NbfxError> {
    let attributes = &element.attributes;
    let same = |a: &super::dom::Attribute, b: &super::dom::Attribute| a.name == b.name && a.prefix == b.prefix;
    let duplicate = if attributes.len() <= 16 {
        attributes.iter().enumerate().find_map(|(i, a)| attributes[..i].iter().any(|b| same(a, b)).then_some(a))
    } else {
        // Many attributes: sort references instead of comparing every pair.
        let mut sorted: Vec<_> = attributes.iter().collect();
        sorted.sort_unstable_by(|a, b| (&a.prefix, &a.name).cmp(&(&b.prefix, &b.name)));
        sorted.windows(2).find(|w| same(w[0], w[1])).map(|w| w[0])
    };
    match duplicate {
        Some(a) => Err(NbfxError::DuplicateAttribute { name: clip(&a.qualified_name()), at: at() }),
        None => Ok(()),
    }
}
