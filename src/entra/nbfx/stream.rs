//! A split document decoded as it arrives: the bytes of items already handed out are let go,
//! so a response of a million objects is held a few hundred KB at a time instead of whole.
//!
//! msbin1 has no back references here (only the static dictionary), so what precedes the
//! container's first item (the envelope up to the container's start tag: the "head") together
//! with any run of whole items and the end of the document is itself a valid document. Each
//! time enough new bytes have arrived, head + unread bytes are decoded with
//! [`decode_split_ranges`]; the items it completes are handed out and their bytes dropped, and
//! the decode's complaint about the cut-off last item is expected (the next run sees it whole).
//! What is left at the end, head + tail, is decoded as usual by the caller, which sees no item
//! twice and gets the rest of the document (and any error in it) as before.

use super::dom::Element;
use super::limits::Limits;
use super::reader::decode_split_ranges;

/// New bytes that trigger the next decode: large enough that re-reading the head and a cut-off
/// item costs little, small enough to hold.
const RUN_BYTES: usize = 256 << 10;

pub struct SplitStream {
    container: String,
    limits: Limits,
    head: Option<Vec<u8>>,
    unread: Vec<u8>,
    next_run_at: usize,
    /// Off after an item of an array record (no byte range to cut at): the rest is kept.
    cutting: bool,
    handed_out: u64,
}

impl SplitStream {
    pub fn new(container: &str, limits: Limits) -> Self {
        SplitStream {
            container: container.to_owned(),
            limits,
            head: None,
            unread: Vec::new(),
            next_run_at: RUN_BYTES,
            cutting: true,
            handed_out: 0,
        }
    }

    /// Takes the next bytes of the document; hands `each` the items they complete.
    pub fn push(&mut self, bytes: &[u8], each: &mut dyn FnMut(Element)) {
        self.unread.extend_from_slice(bytes);
        if self.cutting && self.unread.len() >= self.next_run_at {
            self.run(each);
        }
    }

    /// How many items were handed out.
    pub fn handed_out(&self) -> u64 {
        self.handed_out
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.head.as_ref().map_or(0, Vec::len) + self.unread.len()
    }

    /// What is left to decode: the head and the bytes after the last item handed out.
    pub fn finish(self) -> Vec<u8> {
        match self.head {
            Some(mut head) => {
                head.extend_from_slice(&self.unread);
                head
            }
            None => self.unread,
        }
    }

    fn run(&mut self, each: &mut dyn FnMut(Element)) {
        let input = match &self.head {
            Some(head) => [head.as_slice(), &self.unread].concat(),
            None => std::mem::take(&mut self.unread),
        };
        let (mut first, mut cut, mut stop) = (None, None, false);
        // An error is expected (the last item is cut off); one that is not is met again by the
        // caller's decode of what is left.
        let _ = decode_split_ranges(&input, &self.limits, &self.container, &mut |item, bytes| {
            if stop {
                return;
            }
            match bytes {
                Some(b) => {
                    first.get_or_insert(b.start);
                    cut = Some(b.end);
                    self.handed_out += 1;
                    each(item);
                }
                None => stop = true,
            }
        });
        if stop {
            self.cutting = false;
        }
        match (cut, first) {
            (Some(end), Some(start)) => {
                if self.head.is_none() {
                    self.head = Some(input[..start].to_vec());
                }
                self.unread = input[end..].to_vec();
                self.next_run_at = self.unread.len() + RUN_BYTES;
            }
            _ => {
                // No item complete yet (a large item, or not this kind of document): wait for
                // twice as much, so the re-reading stays linear.
                self.unread = match &self.head {
                    Some(head) => input[head.len()..].to_vec(),
                    None => input,
                };
                self.next_run_at = self.unread.len().saturating_mul(2).max(RUN_BYTES);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::nbfx::{ElementRef, NbfxError, decode_split, encode, from_xml};

    fn document(items: usize) -> Vec<u8> {
        let items: String = (0..items)
            .map(|i| {
                format!(r#"<r:Item i:type="x"><r:Key>key-{i}</r:Key><r:Pad>{}</r:Pad></r:Item>"#, "p".repeat(i % 300))
            })
            .collect();
        let xml = format!(
            r#"<r:Result xmlns:r="urn:r" xmlns:i="urn:i"><r:Head>h</r:Head><r:Items>{items}</r:Items><r:Tail>t</r:Tail></r:Result>"#
        );
        encode(&from_xml(&xml).unwrap()).unwrap()
    }

    fn key(item: &Element) -> String {
        ElementRef::root(item).child_text("urn:r", "Key").unwrap_or_default()
    }

    /// Feeds `bytes` in chunks of `chunk`; returns the keys handed out while streaming, then
    /// those of the final decode, the rest, and the most bytes held.
    fn stream(bytes: &[u8], chunk: usize) -> (Vec<String>, Vec<String>, Result<Element, NbfxError>, usize) {
        let mut s = SplitStream::new("Items", Limits::default());
        let (mut streamed, mut held) = (Vec::new(), 0);
        for c in bytes.chunks(chunk) {
            s.push(c, &mut |item| streamed.push(key(&item)));
            held = held.max(s.held());
        }
        assert_eq!(s.handed_out(), streamed.len() as u64);
        let left = s.finish();
        let mut last = Vec::new();
        let rest = decode_split(&left, &Limits::default(), "Items", &mut |item| last.push(key(&item)));
        (streamed, last, rest, held)
    }

    #[test]
    fn every_item_once_in_order_whatever_the_chunks() {
        let bytes = document(8000);
        assert!(bytes.len() > 4 * RUN_BYTES, "{} bytes", bytes.len());
        let expected: Vec<String> = (0..8000).map(|i| format!("key-{i}")).collect();
        for chunk in [1000, 4096, 65536, bytes.len()] {
            let (streamed, last, rest, held) = stream(&bytes, chunk);
            let all: Vec<String> = streamed.iter().chain(&last).cloned().collect();
            assert_eq!(all, expected, "chunks of {chunk}");
            if chunk < bytes.len() {
                assert!(streamed.len() > 7000, "chunks of {chunk}: only {} streamed", streamed.len());
                assert!(held < 3 * RUN_BYTES, "chunks of {chunk}: held {held} of {}", bytes.len());
            }
            let rest = rest.unwrap();
            let rest = ElementRef::root(&rest);
            assert_eq!(rest.child_text("urn:r", "Head").as_deref(), Some("h"));
            assert_eq!(rest.child_text("urn:r", "Tail").as_deref(), Some("t"));
            assert_eq!(rest.child("urn:r", "Items").unwrap().children().count(), 0);
        }
    }

    #[test]
    fn a_broken_document_still_fails_at_the_end() {
        let mut bytes = document(3000);
        let middle = bytes.len() / 2;
        bytes[middle..middle + 8].fill(0xFF);
        let (streamed, last, rest, _) = stream(&bytes, 8192);
        assert!(rest.is_err(), "the damage is reported");
        assert!(streamed.len() + last.len() < 3000);
        let cut = document(3000);
        let (_, _, rest, _) = stream(&cut[..cut.len() - 5], 8192);
        assert!(rest.is_err(), "a document cut short is reported");
    }

    #[test]
    fn a_document_without_the_container_is_kept_whole() {
        let xml = format!(r#"<r:Other xmlns:r="urn:r">{}</r:Other>"#, "<r:A>x</r:A>".repeat(20_000));
        let bytes = encode(&from_xml(&xml).unwrap()).unwrap();
        let (streamed, last, rest, _) = stream(&bytes, 4096);
        assert!(streamed.is_empty() && last.is_empty());
        assert_eq!(ElementRef::root(&rest.unwrap()).children().count(), 20_000);
    }
}
