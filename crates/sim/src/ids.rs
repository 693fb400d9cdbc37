//! Fresh values: task ids, token ids and token secrets. One counter feeds task and token
//! ids alike, so ids are deterministic for a given sequence of calls.

/// Hands out ids from one counter.
#[derive(Debug, Default)]
pub(crate) struct IdGen {
    counter: u64,
}

/// splitmix64: spreads a counter into id-looking bits, deterministically.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A user's id, derived from the name (32 lowercase hex digits, like Anaplan's).
pub(crate) fn user_id(name: &str) -> String {
    // FNV-1a, then spread: stable across runs, distinct for distinct names in practice.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:016x}{:016x}", mix(h), mix(!h))
}

impl IdGen {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A fresh 32-digit uppercase hex id.
    pub(crate) fn hex_id(&mut self) -> String {
        let n = self.next();
        format!("{:016X}{:016X}", mix(n), mix(!n))
    }

    /// A fresh id in UUID form, as Anaplan's token ids look.
    pub(crate) fn uuid(&mut self) -> String {
        let h = self.hex_id().to_ascii_lowercase();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// A token value: it must not be guessable from ids, so it comes from the system RNG.
    pub(crate) fn secret(&mut self) -> String {
        use aws_lc_rs::rand::SecureRandom;
        let mut bytes = [0u8; 24];
        if aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut bytes)
            .is_err()
        {
            // The system RNG does not fail on supported platforms; a loopback simulator
            // falls back to unique, if guessable, values rather than refuse to log in.
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&mix(self.next()).to_be_bytes());
            }
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
