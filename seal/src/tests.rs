use super::*;

const CHEAP: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

fn region_key(region: &str) -> (String, SecretKey, PublicKey) {
    let secret = generate().expect("random numbers");
    let public = secret.public();
    (key_id(region, &public), secret, public)
}

fn person() -> Identity {
    Identity {
        given_names: "Rosa Elvira".into(),
        family_names: "Huamán Quispe".into(),
        document_type: "dni".into(),
        document_number: "45879632".into(),
        phone: "+51 965 123 456".into(),
        address: "Comunidad nativa Tres Islas".into(),
        note: String::new(),
    }
}

#[test]
fn an_identity_opens_with_its_key_and_shows_nothing_in_clear() {
    let (id, secret, public) = region_key("madre-de-dios");
    let sealed = person()
        .seal(&public, &id, "insp:1", "P-001")
        .expect("sealed");
    assert_eq!(sealed.alg, ALG);
    assert_eq!(sealed.recipient_key_id, id);
    let wire = serde_json::to_string(&sealed).expect("json");
    for clear in ["Rosa Elvira", "Huamán", "45879632", "965 123", "Tres Islas"] {
        assert!(!wire.contains(clear), "{clear} in clear in {wire}");
    }
    let opened = Identity::open(&[(id, secret)], &sealed, "insp:1", "P-001").expect("opens");
    assert_eq!(opened, person());
}

#[test]
fn another_key_or_another_place_does_not_open_it() {
    let (id, _secret, public) = region_key("loreto");
    let (other_id, other_secret, _) = region_key("ucayali");
    let sealed = person()
        .seal(&public, &id, "insp:1", "P-001")
        .expect("sealed");
    assert_eq!(
        Identity::open(
            &[(other_id.clone(), other_secret)],
            &sealed,
            "insp:1",
            "P-001"
        ),
        Err(SealError::KeyNotHeld(id.clone()))
    );
    // The right id with the wrong secret (a forged key list) fails authentication, not open.
    let (_, wrong_secret, _) = region_key("loreto");
    assert_eq!(
        Identity::open(&[(id.clone(), wrong_secret)], &sealed, "insp:1", "P-001"),
        Err(SealError::Damaged)
    );
    let _ = other_id;
}

#[test]
fn a_sealed_identity_moved_to_another_person_or_record_does_not_open() {
    let (id, secret, public) = region_key("loreto");
    let sealed = person()
        .seal(&public, &id, "insp:1", "P-001")
        .expect("sealed");
    let keys = [(id, secret)];
    assert_eq!(
        Identity::open(&keys, &sealed, "insp:1", "P-002"),
        Err(SealError::Damaged)
    );
    assert_eq!(
        Identity::open(&keys, &sealed, "insp:2", "P-001"),
        Err(SealError::Damaged)
    );
}

#[test]
fn truncated_or_garbage_ciphertext_is_damaged_not_a_panic() {
    let (id, secret, public) = region_key("loreto");
    let mut sealed = person()
        .seal(&public, &id, "insp:1", "P-001")
        .expect("sealed");
    let keys = [(id, secret)];
    let full = b64::decode(&sealed.ciphertext_b64).expect("b64");
    for cut in [0, 1, 31, 32, 47, 48, full.len() - 1] {
        sealed.ciphertext_b64 = b64::encode(&full[..cut]);
        assert_eq!(
            Identity::open(&keys, &sealed, "insp:1", "P-001"),
            Err(SealError::Damaged),
            "cut at {cut}"
        );
    }
    sealed.ciphertext_b64 = "%%% not base64".into();
    assert_eq!(
        Identity::open(&keys, &sealed, "insp:1", "P-001"),
        Err(SealError::Damaged)
    );
    assert_eq!(
        person().seal(&public, "not-a-key-id", "insp:1", "P-001"),
        Err(SealError::BadShape("not a key id"))
    );
    sealed.alg = "x25519-xsalsa20poly1305".into();
    assert!(matches!(
        Identity::open(&keys, &sealed, "insp:1", "P-001"),
        Err(SealError::UnknownAlg(_))
    ));
}

#[test]
fn a_rotated_key_still_opens_old_records() {
    let (old_id, old_secret, old_public) = region_key("loreto");
    let (new_id, new_secret, new_public) = region_key("loreto");
    assert_ne!(old_id, new_id);
    let before = person()
        .seal(&old_public, &old_id, "insp:1", "P-001")
        .expect("sealed");
    let after = person()
        .seal(&new_public, &new_id, "insp:2", "P-001")
        .expect("sealed");
    let keys = [(new_id, new_secret), (old_id, old_secret)];
    assert!(Identity::open(&keys, &before, "insp:1", "P-001").is_ok());
    assert!(Identity::open(&keys, &after, "insp:2", "P-001").is_ok());
}

#[test]
fn a_wrapped_key_opens_only_with_its_passphrase() {
    let (id, secret, public) = region_key("loreto");
    let wrapped = wrap_with(&secret, &id, "río Madre de Dios 2026", CHEAP).expect("wrapped");
    assert_eq!(wrapped.public_key_b64, public.to_b64());
    let json = serde_json::to_string(&wrapped).expect("json");
    let secret_b64 = b64::encode(&secret.0[..]);
    assert!(!json.contains(&secret_b64), "the secret in clear in {json}");

    let back: WrappedKey = serde_json::from_str(&json).expect("parses");
    let unwrapped = unwrap(&back, "río Madre de Dios 2026").expect("unwraps");
    assert_eq!(unwrapped.public(), public);
    let err = unwrap(&back, "rio madre de dios 2026").expect_err("wrong passphrase");
    assert_eq!(err, SealError::WrongPassphrase);
    assert_eq!(err.to_string(), "wrong passphrase");

    // The wrapped key bound to another id (a record edited on the server) does not open.
    let mut moved = back.clone();
    moved.key_id = key_id("ucayali", &public);
    assert_eq!(
        unwrap(&moved, "río Madre de Dios 2026").map(|_| ()),
        Err(SealError::WrongPassphrase)
    );
    // Hostile costs are refused before any work.
    let mut costly = back;
    costly.params.m_kib = u32::MAX;
    assert_eq!(
        unwrap(&costly, "río Madre de Dios 2026").map(|_| ()),
        Err(SealError::KdfTooCostly)
    );
}

#[test]
fn the_identity_has_the_fields_the_tablet_sends_in_their_order() {
    let values: Vec<String> = (0..7).map(|i| format!(" v{i} ")).collect();
    let full = Identity::from_fields(std::array::from_fn(|i| values[i].as_str()));
    let json = serde_json::to_value(&full).expect("json");
    let mut keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = chaski_shared::sealed::IDENTITY_FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    for (i, field) in chaski_shared::sealed::IDENTITY_FIELDS.iter().enumerate() {
        assert_eq!(json[field], format!("v{i}"));
    }
}

#[test]
fn secrets_never_print() {
    let (_, secret, _) = region_key("loreto");
    assert_eq!(format!("{secret:?}"), "SecretKey(…)");
}

#[test]
fn a_sealed_photo_envelope_names_its_key_and_opens() {
    let (id, secret, public) = region_key("madre-de-dios");
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4];
    let aad = photo_aad("insp:1", "photo-1.jpg");
    let env = seal_bytes(&public, &id, &jpeg, &aad).expect("sealed");
    assert_eq!(check_envelope(&env), Ok(id.as_str()));
    assert!(!env.windows(4).any(|w| w == [0xFF, 0xD8, 0xFF, 0xE0]));
    let keys = [(id, secret)];
    assert_eq!(open_bytes(&keys, &env, &aad).expect("opens"), jpeg);
    assert_eq!(
        open_bytes(&keys, &env, &photo_aad("insp:1", "photo-2.jpg")),
        Err(SealError::Damaged)
    );
    for cut in [
        0,
        5,
        ENVELOPE_MAGIC.len(),
        ENVELOPE_MAGIC.len() + 10,
        env.len() - 40,
    ] {
        assert!(check_envelope(&env[..cut]).is_err(), "cut at {cut}");
        assert!(open_bytes(&keys, &env[..cut], &aad).is_err());
    }
    assert!(check_envelope(&jpeg).is_err());
}

#[test]
fn key_ids_have_one_shape() {
    let (id, _, public) = region_key("madre-de-dios");
    assert!(valid_key_id(&id));
    assert!(id.starts_with("madre-de-dios-"));
    assert_eq!(key_id("madre-de-dios", &public), id);
    for bad in [
        "",
        "loreto",
        "loreto-",
        "-0123456789abcdef",
        "Loreto-0123456789abcdef",
        "loreto-0123456789ABCDEF",
        "loreto-0123456789abcde",
        "lo reto-0123456789abcdef",
        "loreto\n-0123456789abcdef",
    ] {
        assert!(!valid_key_id(bad), "{bad:?}");
    }
}

#[test]
fn what_this_crate_seals_passes_the_servers_shape_checks_and_an_empty_identity_too() {
    use chaski_shared::domain::validate_document;
    use chaski_shared::Document;
    let (id, _, public) = region_key("madre-de-dios");
    let doc_id = "inspection:20261128T133000Z-9f2c4e1a00b3d7e5";
    let full = person().seal(&public, &id, doc_id, "P-001").unwrap();
    // The shortest plaintext (`{}`) still seals to more than the server's minimum.
    let empty = Identity::default()
        .seal(&public, &id, doc_id, "P-002")
        .unwrap();
    let envelope = seal_bytes(
        &public,
        &id,
        &[0xFF, 0xD8, 0xFF, 0xD9],
        &photo_aad(doc_id, "p1"),
    )
    .unwrap();
    let value = serde_json::json!({
        "_id": doc_id,
        "type": "inspection",
        "status": "draft",
        "people": [{"code": "P-001", "sealed": full}, {"code": "P-002", "sealed": empty}],
        "photos": [{"attachment": "p1", "shows_people": true}],
        "_attachments": {"p1": {"content_type": SEALED_CONTENT_TYPE,
                                "data": b64::encode(&envelope)}},
    });
    let doc = Document::from_json(value).unwrap();
    assert_eq!(
        validate_document(&doc).map_err(|e| format!("{e:?}")).err(),
        None
    );
}

#[test]
fn a_wrapped_key_has_the_exported_names_and_sizes_and_default_costs_within_the_bounds() {
    let secret = generate().unwrap();
    let id = key_id("loreto", &secret.public());
    let wrapped = wrap_with(&secret, &id, "correct horse battery staple", KdfParams::MIN).unwrap();
    assert_eq!(
        (wrapped.kdf.as_str(), wrapped.aead.as_str()),
        (WRAP_KDF, WRAP_AEAD)
    );
    let len = |text: &str| chaski_shared::b64::decode(text).unwrap().len();
    assert_eq!(len(&wrapped.salt_b64), WRAP_SALT_LEN);
    assert_eq!(len(&wrapped.nonce_b64), WRAP_NONCE_LEN);
    assert_eq!(len(&wrapped.ciphertext_b64), WRAPPED_KEY_LEN);
    for params in [KdfParams::DEFAULT, KdfParams::MIN, KdfParams::MAX] {
        assert!(!params.below(KdfParams::MIN) && !params.above(KdfParams::MAX));
    }
    let mut costly = wrapped;
    costly.params.p = KdfParams::MAX.p + 1;
    assert_eq!(
        unwrap(&costly, "correct horse battery staple").unwrap_err(),
        SealError::KdfTooCostly
    );
}

#[test]
fn a_low_order_public_key_is_refused_as_unusable_not_as_missing_randomness() {
    // The all-zero point: X25519 with it gives an all-zero shared secret (RFC 9180 §7.1.4).
    let zero = PublicKey([0u8; 32]);
    let id = key_id("loreto", &zero);
    assert_eq!(
        seal(&zero, &id, b"Rosa", b"aad").unwrap_err(),
        SealError::BadShape("not a usable public key")
    );
    assert_eq!(
        seal_bytes(&zero, &id, b"photo", b"aad").unwrap_err(),
        SealError::BadShape("not a usable public key")
    );
}
