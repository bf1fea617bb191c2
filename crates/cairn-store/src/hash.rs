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

/// The hasher for the piece of an input that starts at `offset`, when the input is hashed in
/// pieces (see [`combine_pieces`]).
pub fn piece_hasher(offset: u64) -> blake3::Hasher {
    use blake3::hazmat::HasherExt;
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(offset);
    hasher
}

/// The BLAKE3 hash of an input of `len` bytes that was hashed in pieces of `piece` bytes (a
/// power of two, at least `blake3::CHUNK_LEN`; the last piece may be shorter, and there are
/// at least two): `cvs` holds each piece's chaining value, in order, from
/// [`piece_hasher`]`(offset)` and `finalize_non_root`. Each piece is a subtree of BLAKE3's
/// tree, so the pieces can be hashed apart (ranges of one object received in parallel) and
/// joined here into the hash of the whole, the tree's parent nodes built as BLAKE3 builds
/// them: the left subtree of a node holds the largest power of two of chunks that leaves the
/// right one non-empty.
pub fn combine_pieces(cvs: &[blake3::hazmat::ChainingValue], piece: u64, len: u64) -> Digest {
    use blake3::hazmat::{Mode, merge_subtrees_non_root, merge_subtrees_root};
    // Splits `len` bytes (more than one piece) into the left subtree's length and the right's.
    let split = |len: u64| -> u64 {
        let chunk = blake3::CHUNK_LEN as u64;
        let chunks = len.div_ceil(chunk);
        (1u64 << (63 - (chunks - 1).leading_zeros())) * chunk
    };
    fn subtree(
        cvs: &[blake3::hazmat::ChainingValue],
        piece: u64,
        len: u64,
        split: &dyn Fn(u64) -> u64,
    ) -> blake3::hazmat::ChainingValue {
        if let [cv] = cvs {
            return *cv;
        }
        let left = split(len);
        let k = (left / piece) as usize;
        merge_subtrees_non_root(
            &subtree(&cvs[..k], piece, left, split),
            &subtree(&cvs[k..], piece, len - left, split),
            Mode::Hash,
        )
    }
    assert!(
        cvs.len() >= 2 && piece.is_power_of_two() && piece >= blake3::CHUNK_LEN as u64,
        "combine_pieces needs two pieces or more, of a power-of-two size of whole chunks"
    );
    let left = split(len);
    let k = (left / piece) as usize;
    merge_subtrees_root(
        &subtree(&cvs[..k], piece, left, &split),
        &subtree(&cvs[k..], piece, len - left, &split),
        Mode::Hash,
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use blake3::hazmat::HasherExt;

    #[test]
    fn pieces_hashed_apart_combine_into_the_hash_of_the_whole() {
        let piece = 4096u64;
        let input: Vec<u8> = (0..(9 * piece + 1000) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        // Lengths around every shape of tree: exact powers of two of pieces, one byte more or
        // less, a last piece of one byte, odd numbers of pieces.
        let mut lengths = vec![
            piece + 1,
            2 * piece - 1,
            2 * piece,
            2 * piece + 1,
            3 * piece,
        ];
        lengths.extend([
            4 * piece,
            4 * piece + 1,
            5 * piece - 7,
            8 * piece,
            9 * piece + 1000,
        ]);
        for len in lengths {
            let whole = &input[..len as usize];
            let cvs: Vec<_> = whole
                .chunks(piece as usize)
                .enumerate()
                .map(|(i, bytes)| {
                    piece_hasher(i as u64 * piece)
                        .update(bytes)
                        .finalize_non_root()
                })
                .collect();
            assert_eq!(
                combine_pieces(&cvs, piece, len),
                Digest::of(whole),
                "{len} bytes in {} pieces",
                cvs.len()
            );
        }
    }
}
