//! Request building: for every input that validates, decoding the built URL
//! gives the same fields back; every other input is refused with a field
//! named, never a panic.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use mtgsy_ddns::request::{self, Secret, Server, UpdateFields};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let ip = Ipv4Addr::new(data[0], data[1], data[2], data[3]);
    let flags = data[4];
    let port = u16::from_be_bytes([data[5], data[6]]);
    let text = String::from_utf8_lossy(&data[7..]);
    let mut parts = text.split('\0');
    let mut next = || parts.next().map(str::to_string);
    let username = next().unwrap_or_default();
    let password = next().unwrap_or_default();
    let fields = UpdateFields {
        username,
        password: Secret::new(password),
        hb: flags & 1 != 0,
        ip,
        stealth: (flags & 2 != 0).then_some(flags & 4 != 0),
        port: (flags & 8 != 0).then_some(port),
        offline_url: next().filter(|_| flags & 16 != 0),
        offline_text: next().filter(|_| flags & 32 != 0),
        mx: next().filter(|_| flags & 64 != 0),
    };
    let allow_private = flags & 128 != 0;
    match fields.validate(allow_private) {
        Ok(()) => {
            let server = Server::parse(request::DEFAULT_SERVER, false).expect("default server");
            let built = request::build(&server, &fields);
            let query = built.url().split_once('?').expect("a query").1;
            let pairs = request::decode_query(query).expect("our own encoding decodes");
            assert_eq!(request::fields_from_pairs(&pairs).as_ref(), Some(&fields));
            assert!(built.masked_url().contains("&pass=***&"), "{}", built.masked_url());
        }
        Err(e) => assert!(!e.field().is_empty()),
    }
});
