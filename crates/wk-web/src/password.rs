//! Password hashing for the web console: argon2id in PHC form, OWASP's recommended cost by
//! default (19 MiB, 2 passes). Verifying is deliberately slow (tens of milliseconds), so it runs
//! on the blocking pool; an unknown account is verified against a decoy hash, so timing does
//! not tell which accounts exist.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use password_hash::rand_core::{OsRng, RngCore as _};

/// Hashes `password` with argon2id at the default cost.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    hash_with(password, Params::default())
}

/// Hashes `password` with argon2id at the given cost (tests use a low one).
pub fn hash_with(password: &str, params: Params) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// Whether `password` matches the PHC hash `phc`; a malformed hash matches nothing.
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// `bytes` random bytes from the operating system, hex-encoded: session ids, CSRF tokens.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Params {
        Params::new(1024, 1, 1, None).expect("valid parameters")
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_with("correct horse battery staple", cheap()).expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(verify(&phc, "correct horse battery staple"));
        assert!(!verify(&phc, "correct horse battery stapl"));
        assert!(!verify("not a hash", "anything"));
        // Two hashes of one password differ (random salt) and both verify.
        let again = hash_with("correct horse battery staple", cheap()).expect("hashes");
        assert_ne!(phc, again);
        assert!(verify(&again, "correct horse battery staple"));
    }

    #[test]
    fn tokens_are_random_and_hex() {
        let (a, b) = (random_token(32), random_token(32));
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
