//! Debug capture: every request and response as `.msbin1` and as indented `.xml`, numbered by
//! call and attempt. Secrets never reach the disk: the bearer token and credential values are
//! replaced by `[redacted]`; the request `.msbin1` is the encoding of that redacted envelope, and
//! requests that carry credentials get no `.msbin1` at all.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroize;

use crate::entra::nbfx::{self, Element, Node};

/// Local names of elements whose text is secret.
const SECRET_ELEMENTS: [&str; 3] = ["BearerToken", "CredentialData", "Password"];
const REDACTED: &str = "[redacted]";

pub(crate) struct Capture {
    dir: PathBuf,
    calls: AtomicU64,
}

impl Capture {
    pub(crate) fn new(dir: PathBuf) -> Capture {
        Capture { dir, calls: AtomicU64::new(0) }
    }

    /// Number of the next call, for file names.
    pub(crate) fn next_call(&self) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) async fn request(
        &self,
        call: u64,
        operation: &str,
        attempt: u32,
        envelope: &Element,
        carries_secret: bool,
    ) {
        let (redacted, _) = redact(envelope);
        let stem = format!("{call:06}-{operation}-{attempt}-request");
        self.write(&format!("{stem}.xml"), nbfx::to_xml_pretty(&redacted).as_bytes()).await;
        if !carries_secret {
            match nbfx::encode(&redacted) {
                Ok(bytes) => self.write(&format!("{stem}.msbin1"), &bytes).await,
                Err(e) => tracing::warn!("capture: cannot encode the redacted request: {e}"),
            }
        }
    }

    pub(crate) async fn response(&self, call: u64, operation: &str, attempt: u32, status: u16, body: &[u8]) {
        let stem = format!("{call:06}-{operation}-{attempt}-response-{status}");
        match nbfx::decode(body) {
            Ok(envelope) => {
                let (redacted, had_secrets) = redact(&envelope);
                self.write(&format!("{stem}.xml"), nbfx::to_xml_pretty(&redacted).as_bytes()).await;
                if !had_secrets {
                    self.write(&format!("{stem}.msbin1"), body).await;
                }
            }
            // Not msbin1 (an HTML error page, garbage): keep the bytes for diagnosis.
            Err(e) => {
                self.write(&format!("{stem}.bin"), body).await;
                self.write(&format!("{stem}.error.txt"), format!("{e}\n").as_bytes()).await;
            }
        }
    }

    async fn write(&self, name: &str, bytes: &[u8]) {
        if let Err(e) = write_private(&self.dir, name, bytes).await {
            tracing::warn!("capture: cannot write {}: {e}", self.dir.join(name).display());
        }
    }
}

/// Owner-only directory and files: captures show tenant data even without secrets.
async fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    tokio::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).await?;
    let mut file =
        tokio::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(dir.join(name)).await?;
    file.write_all(bytes).await?;
    file.flush().await
}

/// A copy of the tree with secret texts replaced; whether there were any. The copied secrets
/// are wiped, not just dropped.
fn redact(root: &Element) -> (Element, bool) {
    let mut copy = root.clone();
    let mut found = false;
    let mut stack = vec![&mut copy];
    while let Some(element) = stack.pop() {
        let secret = SECRET_ELEMENTS.contains(&element.name.as_str());
        for node in element.children.iter_mut() {
            match node {
                Node::Text(text) if secret => {
                    text.zeroize();
                    text.push_str(REDACTED);
                    found = true;
                }
                Node::Text(_) => {}
                Node::Element(child) => stack.push(child),
            }
        }
    }
    (copy, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_secret_texts_only() {
        let tree = Element::new("", "e")
            .child(Element::new("", "BearerToken").text("eyJ.token.sig"))
            .child(Element::new("b", "CredentialData").text("v1;PPH1_MD4,aa,1000,bb;"))
            .child(Element::new("", "DisplayName").text("Alice"));
        let (redacted, found) = redact(&tree);
        assert!(found);
        let xml = nbfx::to_xml(&redacted);
        assert!(!xml.contains("eyJ") && !xml.contains("PPH1"), "{xml}");
        assert_eq!(xml.matches(REDACTED).count(), 2);
        assert!(xml.contains("Alice"));
        let (_, none) = redact(&Element::new("", "x").text("plain"));
        assert!(!none);
    }
}
