//! The XML tree every SOAP message is built from and read into, with builder helpers and
//! namespace resolution.
//!
//! The tree keeps names as written (prefix + local name) and namespace declarations as
//! attributes, so the writer can reproduce a message exactly; [`ElementRef`] resolves
//! namespaces on top of it.

use std::rc::Rc;

/// Namespace bound to the predeclared `xml` prefix.
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// One element: its name as written, its attributes (namespace declarations included) in
/// order, and its children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub prefix: String,
    pub name: String,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Node>,
}

/// One attribute. A namespace declaration is an attribute too: `xmlns:p="…"` has prefix
/// `xmlns` and name `p`; `xmlns="…"` has prefix `""` and name `xmlns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: String,
    pub name: String,
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Attribute {
    pub fn new(prefix: impl Into<String>, name: impl Into<String>, value: impl Into<String>) -> Self {
        Attribute { prefix: prefix.into(), name: name.into(), value: value.into() }
    }

    /// `xmlns:prefix="uri"`, or `xmlns="uri"` when `prefix` is `""`.
    pub fn namespace_declaration(prefix: &str, uri: impl Into<String>) -> Self {
        if prefix.is_empty() { Attribute::new("", "xmlns", uri) } else { Attribute::new("xmlns", prefix, uri) }
    }

    /// If this attribute declares a namespace, the prefix it declares (`""` for the default
    /// namespace).
    pub fn declared_prefix(&self) -> Option<&str> {
        if self.prefix == "xmlns" {
            Some(&self.name)
        } else if self.prefix.is_empty() && self.name == "xmlns" {
            Some("")
        } else {
            None
        }
    }

    /// `p:name` or `name`.
    pub fn qualified_name(&self) -> String {
        qualified(&self.prefix, &self.name)
    }
}

impl Element {
    /// An element without attributes or children; `prefix` may be `""`.
    pub fn new(prefix: impl Into<String>, name: impl Into<String>) -> Self {
        Element { prefix: prefix.into(), name: name.into(), attributes: Vec::new(), children: Vec::new() }
    }

    /// Adds an attribute (builder style).
    pub fn attr(mut self, prefix: impl Into<String>, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push(Attribute::new(prefix, name, value));
        self
    }

    /// Declares a namespace: `xmlns:prefix="uri"`, or `xmlns="uri"` when `prefix` is `""`.
    pub fn xmlns(mut self, prefix: impl Into<String>, uri: impl Into<String>) -> Self {
        self.attributes.push(Attribute::namespace_declaration(&prefix.into(), uri));
        self
    }

    /// Appends a child element (builder style).
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Appends child elements (builder style).
    pub fn children(mut self, children: impl IntoIterator<Item = Element>) -> Self {
        self.children.extend(children.into_iter().map(Node::Element));
        self
    }

    /// Appends text (builder style). Like [`Element::push_text`], empty text adds nothing and
    /// adjacent texts merge, so a built tree equals its decoded form.
    pub fn text(mut self, text: impl AsRef<str> + Into<String>) -> Self {
        self.push_text(text);
        self
    }

    /// Appends a child element.
    pub fn push_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Appends text, merging it into a text child that ends the list (XML cannot tell two
    /// adjacent texts apart).
    /// Empty text adds nothing.
    pub fn push_text(&mut self, text: impl AsRef<str> + Into<String>) {
        if text.as_ref().is_empty() {
            return;
        }
        if let Some(Node::Text(last)) = self.children.last_mut() {
            last.push_str(text.as_ref());
        } else {
            self.children.push(Node::Text(text.into()));
        }
    }

    /// `p:name` or `name`.
    pub fn qualified_name(&self) -> String {
        qualified(&self.prefix, &self.name)
    }

    /// Value of the attribute written as `prefix:name` (no namespace resolution; declarations
    /// are found with prefix `xmlns`).
    pub fn attribute(&self, prefix: &str, name: &str) -> Option<&str> {
        self.attributes.iter().find(|a| a.prefix == prefix && a.name == name).map(|a| a.value.as_str())
    }

    /// The namespace declarations of this element: (declared prefix, URI).
    pub fn namespace_declarations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes.iter().filter_map(|a| a.declared_prefix().map(|p| (p, a.value.as_str())))
    }

    /// The child elements, skipping text.
    pub fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Concatenation of the text children (not of descendants).
    pub fn text_content(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            if let Node::Text(t) = node {
                out.push_str(t);
            }
        }
        out
    }

    /// A view of this element as a document root, for namespace-aware reading.
    pub fn view(&self) -> ElementRef<'_> {
        ElementRef::root(self)
    }
}

fn qualified(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}:{name}") }
}

/// The namespace bindings in force at one element: its own declarations and a link to the
/// bindings of its parent. Frames are shared, so walking a tree allocates only where an element
/// declares something.
#[derive(Debug)]
struct ScopeFrame<'a> {
    bindings: Vec<(&'a str, &'a str)>,
    parent: Option<Rc<ScopeFrame<'a>>>,
}

/// An element together with the namespace bindings in force where it sits, so that names can
/// be resolved to (namespace URI, local name).
#[derive(Debug, Clone)]
pub struct ElementRef<'a> {
    element: &'a Element,
    scope: Option<Rc<ScopeFrame<'a>>>,
}

impl<'a> ElementRef<'a> {
    /// The view of a root element (only `xml` is predeclared).
    pub fn root(element: &'a Element) -> Self {
        Self::within(element, None)
    }

    fn within(element: &'a Element, parent: Option<Rc<ScopeFrame<'a>>>) -> Self {
        let bindings: Vec<_> = element.namespace_declarations().collect();
        let scope = if bindings.is_empty() { parent } else { Some(Rc::new(ScopeFrame { bindings, parent })) };
        ElementRef { element, scope }
    }

    /// The underlying element.
    pub fn element(&self) -> &'a Element {
        self.element
    }

    pub fn local_name(&self) -> &'a str {
        &self.element.name
    }

    /// The namespace URI bound to `prefix` here (`""` = the default namespace, which is `""`
    /// when none is declared); `None` if the prefix is not declared.
    pub fn lookup_prefix(&self, prefix: &str) -> Option<&'a str> {
        if prefix == "xml" {
            return Some(XML_NAMESPACE);
        }
        let mut frame = self.scope.as_deref();
        while let Some(f) = frame {
            if let Some((_, uri)) = f.bindings.iter().find(|(p, _)| *p == prefix) {
                return Some(uri);
            }
            frame = f.parent.as_deref();
        }
        if prefix.is_empty() { Some("") } else { None }
    }

    /// Namespace URI of this element (`""` when it has none); `None` if its prefix is undeclared.
    pub fn namespace(&self) -> Option<&'a str> {
        self.lookup_prefix(&self.element.prefix)
    }

    /// Whether this element is `{namespace}local`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.element.name == local && self.namespace() == Some(namespace)
    }

    /// Namespace URI of one of this element's attributes: unprefixed attributes have none
    /// (`""`); `None` if the prefix is undeclared or the attribute is a namespace declaration.
    pub fn attribute_namespace(&self, attribute: &Attribute) -> Option<&'a str> {
        if attribute.declared_prefix().is_some() {
            None
        } else if attribute.prefix.is_empty() {
            Some("")
        } else {
            self.lookup_prefix(&attribute.prefix)
        }
    }

    /// Value of the attribute `{namespace}local` (namespace `""` for unprefixed attributes).
    pub fn attribute(&self, namespace: &str, local: &str) -> Option<&'a str> {
        let element: &'a Element = self.element;
        element
            .attributes
            .iter()
            .find(|a| a.name == local && self.attribute_namespace(a) == Some(namespace))
            .map(|a| a.value.as_str())
    }

    /// Resolves a QName-valued text such as an `i:type` value (`d:string`) to (namespace URI,
    /// local name) with the bindings in force here; `None` if its prefix is undeclared.
    pub fn resolve_qname<'s>(&self, qname: &'s str) -> Option<(&'a str, &'s str)> {
        let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
        self.lookup_prefix(prefix).map(|ns| (ns, local))
    }

    /// The child elements, each with its own bindings.
    pub fn children(&self) -> impl Iterator<Item = ElementRef<'a>> + '_ {
        let element: &'a Element = self.element;
        element.child_elements().map(move |child| ElementRef::within(child, self.scope.clone()))
    }

    /// The first child element named `{namespace}local`.
    pub fn child(&self, namespace: &str, local: &str) -> Option<ElementRef<'a>> {
        self.children().find(|c| c.is(namespace, local))
    }

    /// All child elements named `{namespace}local`.
    pub fn children_named<'q>(
        &'q self,
        namespace: &'q str,
        local: &'q str,
    ) -> impl Iterator<Item = ElementRef<'a>> + 'q {
        self.children().filter(move |c| c.is(namespace, local))
    }

    /// Text content of this element (its text children, concatenated).
    pub fn text(&self) -> String {
        self.element.text_content()
    }

    /// Text content of the child `{namespace}local`, if that child exists.
    pub fn child_text(&self, namespace: &str, local: &str) -> Option<String> {
        self.child(namespace, local).map(|c| c.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "http://www.w3.org/2003/05/soap-envelope";
    const SYNC: &str = "http://schemas.microsoft.com/online/aws/change/2010/01";
    const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    const XSD: &str = "http://www.w3.org/2001/XMLSchema";

    fn sample() -> Element {
        Element::new("s", "Envelope").xmlns("s", S).child(
            Element::new("s", "Body").child(
                Element::new("", "FinalizeExport")
                    .xmlns("", SYNC)
                    .xmlns("i", XSI)
                    .child(Element::new("", "totalExported").text("1"))
                    .child(
                        Element::new("c", "Value")
                            .attr("i", "type", "d:string")
                            .xmlns("d", XSD)
                            .attr("", "plain", "x")
                            .text("Alice"),
                    ),
            ),
        )
    }

    #[test]
    fn resolves_prefixes_defaults_and_attributes() {
        let doc = sample();
        let root = doc.view();
        assert!(root.is(S, "Envelope"));
        let body = root.child(S, "Body").expect("body");
        let op = body.child(SYNC, "FinalizeExport").expect("operation");
        assert_eq!(op.namespace(), Some(SYNC));
        assert_eq!(op.child_text(SYNC, "totalExported").as_deref(), Some("1"));
        let value = op.children().nth(1).expect("value");
        // `c` is never declared.
        assert_eq!(value.namespace(), None);
        assert_eq!(value.attribute(XSI, "type"), Some("d:string"));
        assert_eq!(value.resolve_qname("d:string"), Some((XSD, "string")));
        assert_eq!(value.attribute("", "plain"), Some("x"));
        assert_eq!(value.lookup_prefix("xml"), Some(XML_NAMESPACE));
        assert_eq!(value.text(), "Alice");
        assert_eq!(root.lookup_prefix(""), Some(""));
        assert_eq!(root.lookup_prefix("i"), None);
    }

    #[test]
    fn declarations_are_attributes() {
        let e = Element::new("", "x").xmlns("", "urn:a").xmlns("p", "urn:b");
        assert_eq!(e.attribute("", "xmlns"), Some("urn:a"));
        assert_eq!(e.attribute("xmlns", "p"), Some("urn:b"));
        assert_eq!(e.namespace_declarations().collect::<Vec<_>>(), vec![("", "urn:a"), ("p", "urn:b")]);
    }

    #[test]
    fn push_text_merges_adjacent_text() {
        let mut e = Element::new("", "x");
        e.push_text("a");
        e.push_text("b");
        e.push_child(Element::new("", "y"));
        e.push_text("c");
        assert_eq!(e.children.len(), 3);
        assert_eq!(e.text_content(), "abc");
        assert!(Element::new("", "x").text("").children.is_empty());
        assert_eq!(Element::new("", "x").text("a").text("b").children, vec![Node::Text("ab".into())]);
    }
}
