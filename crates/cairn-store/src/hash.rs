//! Hashing files: small files are read whole, large ones are memory-mapped and hashed on all
//! cores (BLAKE3's tree mode parallelises within one file).

use std::fs;
use std::io;
use std::path::Path;

use crate::Digest;

/// Files at least this large are hashed through a memory map with rayon.
pub const LARGE_FILE: u64 = 4 << 20;

/// Hashes the file at `path`, returning its digest and the number of bytes hashed.
pub fn hash_file(path: &Path, size_hint: u64) -> io::Result<(Digest, u64)> {
    if size_hint >= LARGE_FILE {
        let mut hasher = blake3::Hasher::new();
        hasher.update_mmap_rayon(path)?;
        Ok((hasher.finalize().into(), hasher.count()))
    } else {
        let bytes = fs::read(path)?;
        Ok((Digest::of(&bytes), bytes.len() as u64))
    }
}
