//! Injected randomness: the only place the engine reads the operating system's random
//! number generator.
//!
//! Everything that draws random bytes — token and code generation, client secrets, salts,
//! signing keys' identifiers — takes an [`Rng`], so a test can hand the engine a
//! deterministic source, and `clippy.toml` keeps every other module off the OS RNG.

use std::sync::Arc;

/// A source of random bytes. Production uses [`OsRng`]; anything else must be a
/// cryptographically secure generator, because tokens, codes and secrets come from it.
pub trait Rng: Send + Sync + 'static {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);

    /// `N` random bytes.
    fn bytes<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized,
    {
        random_bytes(self)
    }
}

impl<R: Rng + ?Sized> Rng for Arc<R> {
    fn fill(&self, dest: &mut [u8]) {
        (**self).fill(dest);
    }
}

/// The operating system's CSPRNG (`getrandom`).
///
/// ```
/// use authgate::rng::{OsRng, Rng};
/// let a: [u8; 16] = OsRng.bytes();
/// let b: [u8; 16] = OsRng.bytes();
/// assert_ne!(a, b);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl Rng for OsRng {
    // The one sanctioned read of the OS RNG (see clippy.toml). A machine without one cannot
    // issue secure tokens; stopping is the only safe answer, and getrandom documents the
    // failure as unreachable on supported platforms.
    #[allow(clippy::disallowed_methods, clippy::expect_used)]
    fn fill(&self, dest: &mut [u8]) {
        getrandom::fill(dest).expect("the OS random number generator failed");
    }
}

/// `N` random bytes from any [`Rng`], trait objects included.
pub fn random_bytes<const N: usize>(rng: &(impl Rng + ?Sized)) -> [u8; N] {
    let mut buf = [0u8; N];
    rng.fill(&mut buf);
    buf
}

/// A random 256-bit value as 43 base64url characters, for an application's own secrets:
/// session ids, one-time links.
///
/// ```
/// let sid = authgate::rng::random_token(&authgate::OsRng);
/// assert_eq!(sid.len(), 43);
/// ```
pub fn random_token(rng: &(impl Rng + ?Sized)) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>(rng))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not random at all: proves the engine's draws go through the injected source.
    struct Counting(std::sync::atomic::AtomicU8);

    impl Rng for Counting {
        fn fill(&self, dest: &mut [u8]) {
            for b in dest {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn draws_come_from_the_injected_source() {
        let rng: Arc<dyn Rng> = Arc::new(Counting(0.into()));
        assert_eq!(random_bytes::<4>(&rng), [0, 1, 2, 3]);
        let t = crate::token::generate_token(rng.as_ref(), 0);
        // The selector's random part (bytes 6..16) is the next ten draws.
        assert_eq!(&t.key.selector.0[6..], &[4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    }
}
