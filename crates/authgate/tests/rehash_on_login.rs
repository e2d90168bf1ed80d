//! The guide's "Coming from Authlib": users moved from a Flask/Authlib application sign in
//! with their Werkzeug-hashed passwords, and each hash is replaced by argon2id on the way
//! (feature `werkzeug`). The `sign_in` function is what the guide shows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;
use std::sync::Mutex;

use authgate::password::{self, PasswordCheck};
use authgate::StorageError;

/// The app's users: name -> stored password hash (Werkzeug's or argon2id).
type Users = Mutex<HashMap<String, String>>;

/// Checks a sign-in and, when the stored hash is Werkzeug's, stores its argon2id successor.
async fn sign_in(users: &Users, name: &str, typed: &str) -> Result<bool, StorageError> {
    let stored = users.lock().unwrap().get(name).cloned();
    let Some(stored) = stored else {
        // As slow as a real check: the time does not tell who has an account.
        password::verify_unknown_user(typed.to_owned()).await?;
        return Ok(false);
    };
    match password::check(stored, typed.to_owned()).await? {
        PasswordCheck::Match => Ok(true),
        PasswordCheck::MatchRehashed(new_hash) => {
            users.lock().unwrap().insert(name.to_owned(), new_hash);
            Ok(true)
        }
        _ => Ok(false),
    }
}

#[tokio::test]
async fn a_werkzeug_user_signs_in_and_leaves_an_argon2id_hash_behind() {
    // Made by Werkzeug 3.1.8: generate_password_hash("correct horse", method="scrypt").
    let werkzeug = "scrypt:32768:8:1$YIwCJga60qrE7BVe$e6bc3c7cd30ef4144acdb21fe3d65230245ecf5b2f73b469a524e009e5f42cc0832c53d085762e7f6052c156dc6bf5fc5995ec30979ea5d2fad91db1681186e8";
    let users: Users = Mutex::new(HashMap::from([("alice".to_owned(), werkzeug.to_owned())]));
    assert!(!sign_in(&users, "alice", "wrong").await.unwrap());
    assert_eq!(
        users.lock().unwrap()["alice"],
        werkzeug,
        "no rehash on a failure"
    );
    assert!(sign_in(&users, "alice", "correct horse").await.unwrap());
    let now = users.lock().unwrap()["alice"].clone();
    assert!(now.starts_with("$argon2id$"), "{now}");
    assert!(sign_in(&users, "alice", "correct horse").await.unwrap());
    assert!(!sign_in(&users, "bob", "correct horse").await.unwrap());
}
