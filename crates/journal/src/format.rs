//! The record frame: a 24-byte header and an opaque payload (see the table in the crate doc).

use crate::crc32c;

/// Magic (high nibble `0xA`) and format version (low nibble `1`) in the first byte of every
/// record.
pub const RECORD_MAGIC_V1: u8 = 0xA1;
/// Bytes in a record header.
pub const RECORD_HEADER_BYTES: usize = 24;
/// Largest payload a record may carry. Engine commands are tens of bytes; the limit stops a
/// runaway caller and bounds what a reader allocates.
pub const RECORD_PAYLOAD_MAX_BYTES: usize = 4 * 1024 * 1024;

/// What a record is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A command: an opaque payload with the next sequence number.
    Command = 1,
    /// A commit marker: written after the commands of one group commit, in the same write and
    /// before the same fsync. Its `seq` is the last command it covers; it has no payload and
    /// consumes no sequence number.
    Commit = 2,
}

/// A header that passed its own checksum.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind_byte: u8,
    pub reserved: u16,
    pub payload_len: u32,
    pub seq: u64,
    pub record_crc: u32,
    /// CRC32C of header bytes `0..16`, reused to check the payload without hashing it twice.
    pub prefix_crc: u32,
}

impl Header {
    pub fn kind(&self) -> Option<RecordKind> {
        match self.kind_byte {
            1 => Some(RecordKind::Command),
            2 => Some(RecordKind::Commit),
            _ => None,
        }
    }

    /// Whether `payload` is the one this header was written with.
    #[inline]
    pub fn payload_matches(&self, payload: &[u8]) -> bool {
        crc32c::extend(self.prefix_crc, payload) == self.record_crc
    }
}

/// Appends one framed record to `out` (the writer's framing; public for tools and for tests
/// that craft journal bytes by hand).
pub fn encode_record(out: &mut Vec<u8>, kind: RecordKind, seq: u64, payload: &[u8]) {
    debug_assert!(payload.len() <= RECORD_PAYLOAD_MAX_BYTES);
    let mut h = [0u8; RECORD_HEADER_BYTES];
    h[0] = RECORD_MAGIC_V1;
    h[1] = kind as u8;
    h[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    let prefix = crc32c::crc32c(&h[..16]);
    let record_crc = crc32c::extend(prefix, payload);
    h[16..20].copy_from_slice(&record_crc.to_le_bytes());
    let header_crc = crc32c::extend(prefix, &h[16..20]);
    h[20..24].copy_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
}

/// Decodes the header at the start of `bytes` if it is complete, starts with the magic byte
/// and passes its checksum; `None` otherwise (the caller decides torn or damaged).
#[inline]
pub fn decode_header(bytes: &[u8]) -> Option<Header> {
    let h: &[u8; RECORD_HEADER_BYTES] = bytes.get(..RECORD_HEADER_BYTES)?.try_into().ok()?;
    if h[0] != RECORD_MAGIC_V1 {
        return None;
    }
    let prefix_crc = crc32c::crc32c(&h[..16]);
    let header_crc = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
    if crc32c::extend(prefix_crc, &h[16..20]) != header_crc {
        return None;
    }
    Some(Header {
        kind_byte: h[1],
        reserved: u16::from_le_bytes([h[2], h[3]]),
        payload_len: u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
        seq: u64::from_le_bytes(h[8..16].try_into().unwrap()),
        record_crc: u32::from_le_bytes([h[16], h[17], h[18], h[19]]),
        prefix_crc,
    })
}

/// The offset of the first verifiable header in `bytes[from..]`, if any (used to tell a torn
/// tail from damage: see the crate doc).
pub fn find_verifiable_header(bytes: &[u8], from: usize) -> Option<usize> {
    let end = bytes.len().checked_sub(RECORD_HEADER_BYTES)?;
    (from..=end).find(|&q| bytes[q] == RECORD_MAGIC_V1 && decode_header(&bytes[q..]).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_bit_matters() {
        let mut buf = Vec::new();
        encode_record(&mut buf, RecordKind::Command, 42, b"hello");
        assert_eq!(buf.len(), RECORD_HEADER_BYTES + 5);
        let h = decode_header(&buf).unwrap();
        assert_eq!(
            (h.kind(), h.seq, h.payload_len),
            (Some(RecordKind::Command), 42, 5)
        );
        assert!(h.payload_matches(&buf[RECORD_HEADER_BYTES..]));
        for bit in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let ok =
                decode_header(&b).is_some_and(|h| h.payload_matches(&b[RECORD_HEADER_BYTES..]));
            assert!(!ok, "flip of bit {bit} undetected");
        }
    }

    #[test]
    fn resync_finds_headers() {
        let mut buf = vec![0u8; 7];
        encode_record(&mut buf, RecordKind::Commit, 9, b"");
        assert_eq!(find_verifiable_header(&buf, 0), Some(7));
        assert_eq!(find_verifiable_header(&buf, 8), None);
        assert_eq!(find_verifiable_header(&buf[..20], 0), None);
    }
}
