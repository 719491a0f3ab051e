//! CRC32C (Castagnoli, reflected polynomial `0x82F63B78`): the SSE4.2 `crc32` instruction on
//! x86-64 when the CPU has it (checked at run time), slicing-by-8 tables otherwise.
//!
//! Why our own rather than a crate: it is about forty lines with no dependency and no build
//! script; the tables are computed at compile time; the one `unsafe` call is guarded by
//! run-time feature detection. Replay hashes every byte it reads, so the speed matters: the
//! software path does 1–2 GB/s on these machines, the instruction several times that (replay
//! of 5 million 88-byte records/s needs 440 MB/s of CRC alone). The known-answer vectors of
//! RFC 3720 and a bit-at-a-time reference check both paths in the tests.

const POLY: u32 = 0x82F6_3B78;

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// CRC32C of `bytes`.
#[inline]
pub fn crc32c(bytes: &[u8]) -> u32 {
    extend(0, bytes)
}

/// Continues a CRC32C: `extend(crc32c(a), b) == crc32c(a ++ b)`.
#[inline]
pub fn extend(crc: u32, bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU supports SSE4.2, as checked just above.
        return !unsafe { hw::update(!crc, bytes) };
    }
    !table_update(!crc, bytes)
}

#[cfg(target_arch = "x86_64")]
mod hw {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};

    /// CRC32C state update with the SSE4.2 instruction (no pre/post inversion).
    #[target_feature(enable = "sse4.2")]
    pub unsafe fn update(crc: u32, bytes: &[u8]) -> u32 {
        let mut chunks = bytes.chunks_exact(8);
        let mut c = crc as u64;
        for ch in &mut chunks {
            c = _mm_crc32_u64(c, u64::from_le_bytes(ch.try_into().unwrap()));
        }
        let mut c = c as u32;
        for &b in chunks.remainder() {
            c = _mm_crc32_u8(c, b);
        }
        c
    }
}

/// CRC32C state update with slicing-by-8 tables (no pre/post inversion).
fn table_update(crc: u32, bytes: &[u8]) -> u32 {
    let t = &TABLES;
    let mut c = crc;
    let mut chunks = bytes.chunks_exact(8);
    for ch in &mut chunks {
        let lo = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) ^ c;
        let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        c = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xFF) as usize]
            ^ t[2][((hi >> 8) & 0xFF) as usize]
            ^ t[1][((hi >> 16) & 0xFF) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = (c >> 8) ^ t[0][((c ^ b as u32) & 0xFF) as usize];
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitwise(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn known_answers() {
        // RFC 3720 appendix B.4 and the classic check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&inc), 0x46DD_794E);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn matches_bitwise_and_extends() {
        let data: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 999, 1000] {
            assert_eq!(crc32c(&data[..len]), bitwise(&data[..len]), "len {len}");
            assert_eq!(
                !table_update(!0, &data[..len]),
                bitwise(&data[..len]),
                "table, len {len}"
            );
            for cut in [0, len / 3, len / 2, len] {
                assert_eq!(
                    extend(crc32c(&data[..cut]), &data[cut..len]),
                    crc32c(&data[..len])
                );
            }
        }
    }
}
