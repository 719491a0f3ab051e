//! The parser never panics, whatever bytes arrive (a property-test stand-in for a cargo-fuzz
//! target, which needs a nightly toolchain): random bytes, valid messages cut, spliced and
//! mutated, all pushed through the framer in random chunks and every frame through the parser.

use proptest::prelude::*;
use tokex_fix::codec::{parse, Frame, Framer, Message};

fn valid_messages() -> Vec<Vec<u8>> {
    let mut a = Message::new("D");
    a.push(49, "BUYER")
        .push(56, "TOKEX")
        .push(34, 2)
        .push(11, "B1")
        .push(55, "TKF-2026-12")
        .push(54, 1)
        .push(38, 5)
        .push(40, 2)
        .push(44, "7.650");
    let mut b = Message::new("A");
    b.push(49, "BUYER")
        .push(56, "TOKEX")
        .push(34, 1)
        .push(98, 0)
        .push(108, 30)
        .push(554, "pw");
    let mut c = Message::new("2");
    c.push(49, "BUYER")
        .push(56, "TOKEX")
        .push(34, 3)
        .push(7, 1)
        .push(16, 0);
    vec![a.encode(), b.encode(), c.encode()]
}

fn feed(bytes: &[u8], chunk: usize) {
    let mut f = Framer::new();
    for part in bytes.chunks(chunk.max(1)) {
        f.push(part);
        while let Some(frame) = f.next_frame() {
            if let Frame::Message(m) = frame {
                let _ = parse(&m);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), chunk in 1usize..64) {
        feed(&bytes, chunk);
        let _ = parse(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        prefix in prop::collection::vec(any::<u8>(), 0..20),
        chunk in 1usize..40,
    ) {
        let msgs = valid_messages();
        let mut m = msgs[which].clone();
        for (i, b) in edits {
            let at = i.index(m.len());
            m[at] = b;
        }
        let keep = cut.index(m.len() + 1);
        let mut stream = prefix;
        stream.extend_from_slice(&m[..keep]);
        stream.extend_from_slice(&msgs[(which + 1) % 3]);
        feed(&stream, chunk);
        let _ = parse(&m);
    }
}
