//! The reproducer behind the one WASI program of the pinned testsuite that
//! does not pass (`rust-wasip3/http-request`, listed as `engine` in
//! `wasi-known-failures.txt`): wasmtime-wasi-http 48.0.8 itself, called
//! directly with no tierwatch code in between, refuses a relative
//! path-with-query that the program (and wasmtime v48.0.0, whose
//! `set-path-with-query` took any path the `http` crate parsed) expects to
//! be accepted. Should a later wasmtime accept it again, this test fails and
//! the known failure must go.

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi_http::p3::bindings::http::types::HostRequest as _;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks};

struct Defaults;

impl WasiHttpHooks for Defaults {}

#[test]
fn wasmtime_refuses_a_relative_path_with_query() {
    let mut table = ResourceTable::new();
    let (request, _io) = wasmtime_wasi_http::p3::Request::new(
        http::Method::GET,
        None,
        None,
        None,
        wasmtime_wasi_http::FieldMap::default(),
        None,
        http_body_util::Empty::<hyper::body::Bytes>::new(),
    );
    let request = table.push(request).expect("push the request");
    let (mut ctx, mut hooks) = (WasiHttpCtx::new(), Defaults);
    let mut view = WasiHttpCtxView { ctx: &mut ctx, table: &mut table, hooks: &mut hooks };
    let mut set = |path: &str| {
        view.set_path_with_query(Resource::new_borrow(request.rep()), Some(path.to_owned())).expect("no trap")
    };
    // What the program checks first (http-request.rs, test_path_with_query).
    for absolute in ["/", "/a/b/c", "/a/../../bar", "/?foo"] {
        assert_eq!(set(absolute), Ok(()), "{absolute}");
    }
    // Then these, each expected to be accepted: 48.0.8 refuses the first
    // two, which is where the program panics ("a/b/c: ()").
    assert_eq!(set("a/b/c"), Err(()));
    assert_eq!(set("../.."), Err(()));
    assert_eq!(set("?foo"), Ok(()));
}
