//! A row's hash as a `DUMP` payload, which `RESTORE` turns into the very hash `HSET` would
//! have made: Redis keeps a small hash as a listpack, and a payload of type "hash listpack"
//! carries that listpack as it sits in the server's memory, so the server copies it instead of
//! parsing each field and value and inserting them one by one (1,000,000 rows of six fields:
//! about 1.8 s of redis-server's CPU instead of 2.8 s; docs/benchmarks.md).
//!
//! The payload (Redis 7.0's `DUMP`, RDB version 10; later servers read it too):
//!
//! ```text
//! 0x10                       object type: hash as a listpack (RDB_TYPE_HASH_LISTPACK)
//! LEN                        the listpack's length, RDB-encoded (1, 2, 5 or 9 bytes)
//! LISTPACK                   u32 total bytes, u16 entries, the entries, 0xFF
//! 0x0A 0x00                  RDB version 10, little-endian
//! CRC                        CRC-64/REDIS of everything before, little-endian
//! ```
//!
//! Each listpack entry is encoded as `lpAppend` encodes it (listpack.c): a string that is
//! the canonical decimal text of an `i64` as the smallest integer encoding that holds it,
//! any other string with a 6-, 12- or 32-bit length; then the entry's length backwards. A
//! test restores payloads and compares the server's own `DUMP` of them with its `DUMP` of
//! the same hashes written by `HSET`, byte for byte.

/// The RDB type of a hash kept as a listpack.
const HASH_LISTPACK: u8 = 16;

/// The RDB version of the payload: Redis 7.0's, the first with [`HASH_LISTPACK`].
const RDB_VERSION: u16 = 10;

/// Field/value pairs Redis keeps in a listpack (`hash-max-listpack-entries`, default 128).
pub const MAX_PAIRS: usize = 128;

/// The longest field or value Redis keeps in a listpack (`hash-max-listpack-value`, default
/// 64 bytes). A longer one makes `HSET` convert the hash to a hash table, which a payload of
/// a listpack would not: such rows are written with `HSET`.
pub const MAX_ENTRY: usize = 64;

/// Whether the hash of these field/value pairs is one Redis keeps as a listpack, with the
/// server's default limits, and so one [`payload`] reproduces exactly.
pub fn fits<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> bool {
    let mut count = 0;
    for (field, value) in pairs {
        count += 1;
        if count > MAX_PAIRS || field.len() > MAX_ENTRY || value.len() > MAX_ENTRY {
            return false;
        }
    }
    true
}

/// Writes into `out` (cleared first) the payload of a hash holding `pairs` in this order, as
/// consecutive `HSET`s of distinct fields into an empty key would build it.
pub fn payload<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>, out: &mut Vec<u8>) {
    out.clear();
    out.push(HASH_LISTPACK);
    // The length goes before the listpack, which is only known once it is encoded: room is
    // kept for the longest length encoding, and the listpack moved up after it.
    const ROOM: usize = 9;
    out.resize(1 + ROOM, 0);
    let start = out.len();
    out.extend_from_slice(&[0; 6]);
    let mut entries: usize = 0;
    for (field, value) in pairs {
        entry(field, out);
        entry(value, out);
        entries += 2;
    }
    out.push(0xFF);
    let total = out.len() - start;
    out[start..start + 4].copy_from_slice(&(total as u32).to_le_bytes());
    out[start + 4..start + 6]
        .copy_from_slice(&(entries.min(usize::from(u16::MAX)) as u16).to_le_bytes());
    let mut len = [0u8; ROOM];
    let len_bytes = rdb_len(total as u64, &mut len);
    out.copy_within(start.., 1 + len_bytes);
    out[1..1 + len_bytes].copy_from_slice(&len[..len_bytes]);
    out.truncate(1 + len_bytes + total);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// A length as RDB writes it (`rdbSaveLen`): 6 bits, 14 bits, or a tag and 32 or 64 bits
/// big-endian. Returns how many bytes of `buf` it took.
fn rdb_len(len: u64, buf: &mut [u8; 9]) -> usize {
    if len < 1 << 6 {
        buf[0] = len as u8;
        1
    } else if len < 1 << 14 {
        buf[0] = 0x40 | (len >> 8) as u8;
        buf[1] = len as u8;
        2
    } else if len <= u64::from(u32::MAX) {
        buf[0] = 0x80;
        buf[1..5].copy_from_slice(&(len as u32).to_be_bytes());
        5
    } else {
        buf[0] = 0x81;
        buf[1..9].copy_from_slice(&len.to_be_bytes());
        9
    }
}

/// One listpack entry: its encoding, then its length backwards.
fn entry(text: &[u8], out: &mut Vec<u8>) {
    let at = out.len();
    match integer(text) {
        Some(v) => encode_integer(v, out),
        None => encode_string(text, out),
    }
    let len = out.len() - at;
    backlen(len as u64, out);
}

/// The integer a listpack stores a string as (`lpStringToInt64`): only the canonical decimal
/// text of an `i64` (no sign but `-`, no leading zero, no `-0`, 1 to 20 bytes).
fn integer(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        // Down to i64::MIN, whose magnitude is one more than i64::MAX.
        (v <= i64::MAX as u64 + 1).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// `lpEncodeIntegerGetType`: the smallest of 7-bit unsigned, 13-, 16-, 24-, 32- and 64-bit
/// two's complement.
fn encode_integer(v: i64, out: &mut Vec<u8>) {
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1FFF;
        out.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
    } else if (-32_768..=32_767).contains(&v) {
        out.push(0xF1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if let Ok(v) = i32::try_from(v) {
        out.push(0xF3);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// `lpEncodeString`: a 6-bit length under 64 bytes, 12-bit under 4,096, else 32-bit.
fn encode_string(text: &[u8], out: &mut Vec<u8>) {
    let len = text.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
    } else {
        out.push(0xF0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(text);
}

/// `lpEncodeBacklen`: the entry's length in 7-bit groups, most significant first, every byte
/// but the first with its high bit set.
fn backlen(len: u64, out: &mut Vec<u8>) {
    let groups = match len {
        0..=127 => 1,
        128..16_383 => 2,
        16_383..2_097_151 => 3,
        2_097_151..268_435_455 => 4,
        _ => 5,
    };
    for g in (0..groups).rev() {
        let bits = ((len >> (7 * g)) & 127) as u8;
        out.push(if g == groups - 1 { bits } else { bits | 128 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs<'a>(fields: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        fields.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes()))
    }

    /// redis-server 7.0.15's `DUMP` of `HSET sample @event_us 1700000000123456 @created_us
    /// 1700000000223456 amount 123.45 score 0.123456 clicks 12 orders 3`.
    const SERVER_DUMP: &str = concat!(
        "104068680000000c0089406576656e745f75730af440222018240a0600098b40637265617465645f",
        "75730cf4e0a82118240a06000986616d6f756e7407863132332e3435078573636f72650688302e31",
        "32333435360986636c69636b73070c01866f7264657273070301ff0a004753958055f623f8",
    );

    #[test]
    fn a_payload_is_what_redis_dumps_for_the_same_hash() {
        let row = [
            ("@event_us", "1700000000123456"),
            ("@created_us", "1700000000223456"),
            ("amount", "123.45"),
            ("score", "0.123456"),
            ("clicks", "12"),
            ("orders", "3"),
        ];
        assert!(fits(pairs(&row)));
        let mut out = Vec::new();
        payload(pairs(&row), &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, SERVER_DUMP);
    }

    #[test]
    fn entries_longer_than_a_listpack_keeps_or_too_many_do_not_fit() {
        let long = "x".repeat(MAX_ENTRY + 1);
        assert!(fits(pairs(&[("a", &"x".repeat(MAX_ENTRY))])));
        assert!(!fits(pairs(&[("a", &long)])));
        assert!(!fits(pairs(&[(long.as_str(), "1")])));
        let names: Vec<String> = (0..=MAX_PAIRS).map(|i| format!("f{i}")).collect();
        let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
        assert!(fits(pairs(&many[..MAX_PAIRS])));
        assert!(!fits(pairs(&many)));
    }

    #[test]
    fn lengths_take_the_encodings_redis_gives_them() {
        let mut buf = [0u8; 9];
        for (len, want) in [
            (0u64, &[0x00][..]),
            (63, &[0x3F]),
            (64, &[0x40, 0x40]),
            (16_383, &[0x7F, 0xFF]),
            (16_384, &[0x80, 0x00, 0x00, 0x40, 0x00]),
            (1 << 32, &[0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            let n = rdb_len(len, &mut buf);
            assert_eq!(&buf[..n], want, "rdb length {len}");
        }
        for (len, want) in [
            (1u64, &[0x01][..]),
            (127, &[0x7F]),
            (128, &[0x01, 0x80]),
            (16_382, &[0x7F, 0xFE]),
            (16_383, &[0x00, 0xFF, 0xFF]),
            (2_097_151, &[0x00, 0xFF, 0xFF, 0xFF]),
        ] {
            let mut out = Vec::new();
            backlen(len, &mut out);
            assert_eq!(out, want, "backlen {len}");
        }
    }

    #[test]
    fn integers_are_the_canonical_decimal_texts_of_an_i64() {
        for (text, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("-7", Some(-7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("-0", None),
            ("007", None),
            ("+7", None),
            ("", None),
            ("-", None),
            ("1.5", None),
            (" 1", None),
            ("1e3", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(integer(text.as_bytes()), want, "{text:?}");
        }
    }
}
