//! Digests of the inputs an output is made from, for incremental builds.
//!
//! A [`Digest`] names a value by its content. The engine compares the digests an output was
//! last rendered from with the ones it would be rendered from now; only outputs whose digests
//! differ are rendered again. Every field is written with its length first, so that two
//! different sequences of fields never feed the hasher the same bytes.

use serde::Serialize;

/// A BLAKE3 hash of some inputs.
pub type Digest = [u8; 32];

/// Builds a [`Digest`] from a sequence of fields. The fields are gathered in a buffer and
/// hashed at once: most digests are of a few short fields, where feeding the hasher field by
/// field cost more than the hashing.
#[derive(Default)]
pub struct Digester(Vec<u8>, Option<Vec<Digest>>);

impl Digester {
    /// A digester whose fields follow `label`, so that digests of different kinds of thing
    /// never meet.
    pub fn new(label: &str) -> Self {
        let mut digester = Self(Vec::with_capacity(256), None);
        digester.str(label);
        digester
    }

    /// Like [`Digester::new`], also keeping a list of the digests added: what the result
    /// depends on.
    pub fn recording(label: &str) -> Self {
        let mut digester = Self::new(label);
        digester.1 = Some(Vec::new());
        digester
    }

    /// The digests added so far, when recording.
    pub fn take_recorded(&mut self) -> Vec<Digest> {
        self.1.take().unwrap_or_default()
    }

    /// Adds a string.
    pub fn str(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// Adds bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// Adds a number.
    pub fn u64(&mut self, n: u64) -> &mut Self {
        self.0.extend_from_slice(&n.to_le_bytes());
        self
    }

    /// Adds an optional string, telling `None` from the empty string.
    pub fn opt_str(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            Some(text) => self.u64(1).str(text),
            None => self.u64(0),
        }
    }

    /// Adds another digest.
    pub fn digest(&mut self, digest: &Digest) -> &mut Self {
        if let Some(recorded) = &mut self.1 {
            recorded.push(*digest);
        }
        self.0.extend_from_slice(digest);
        self
    }

    /// Adds anything serializable, through its JSON text.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> &mut Self {
        let start = self.0.len();
        if serde_json::to_writer(&mut self.0, value).is_err() {
            self.0.truncate(start);
        }
        let len = (self.0.len() - start) as u64;
        self.u64(len)
    }

    /// The digest of everything added.
    pub fn finish(&self) -> Digest {
        *blake3::hash(&self.0).as_bytes()
    }
}

/// The digest of one string under a label.
pub fn of_str(label: &str, text: &str) -> Digest {
    Digester::new(label).str(text).finish()
}
