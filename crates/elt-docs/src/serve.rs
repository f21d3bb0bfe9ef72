//! `elt docs serve`: the generated site over HTTP on the loopback interface, plus one endpoint,
//! `GET /api/select?select=..&exclude=..`, that answers a selection with the CLI's own selector
//! (so the site's selection box means exactly what `--select` means).

use std::io::Cursor;
use std::path::{Component, Path, PathBuf};

use serde_json::json;
use tiny_http::{Header, Method, Request, Response, Server};

/// Answers `(select, exclude)` with the selected unique ids, or an error message.
pub type Select<'a> = dyn Fn(&str, &str) -> Result<Vec<String>, String> + 'a;

pub struct DocsServer {
    server: Server,
    root: PathBuf,
}

impl DocsServer {
    /// Listens on `host:port` (port 0: any free port).
    pub fn bind(host: &str, port: u16, root: &Path) -> std::io::Result<Self> {
        let server = Server::http((host, port)).map_err(std::io::Error::other)?;
        Ok(DocsServer {
            server,
            root: root.to_path_buf(),
        })
    }

    pub fn url(&self) -> String {
        match self.server.server_addr().to_ip() {
            Some(address) => format!("http://{address}/"),
            None => "the server's socket".to_string(),
        }
    }

    /// Serves requests until the process ends.
    pub fn run(&self, select: &Select) {
        for request in self.server.incoming_requests() {
            let response = self.respond(&request, select);
            // A client that went away is not an error of the server.
            let _ = request.respond(response);
        }
    }

    fn respond(&self, request: &Request, select: &Select) -> Response<Cursor<Vec<u8>>> {
        if !matches!(request.method(), Method::Get | Method::Head) {
            return text(405, "only GET and HEAD are served");
        }
        let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
        if path == "/api/select" {
            return selection(query, select);
        }
        match self.file(path) {
            Some((bytes, content_type)) => with_headers(Response::from_data(bytes), content_type),
            None => text(404, "not found"),
        }
    }

    /// A file under the site's folder; nothing outside it is ever read.
    fn file(&self, path: &str) -> Option<(Vec<u8>, &'static str)> {
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .ok()?;
        let relative = Path::new(decoded.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return None;
        }
        let file = match relative.as_os_str().is_empty() {
            true => self.root.join("index.html"),
            false => self.root.join(relative),
        };
        let bytes = std::fs::read(&file).ok()?;
        let content_type = match file.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("json") => "application/json",
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            _ => "application/octet-stream",
        };
        Some((bytes, content_type))
    }
}

fn selection(query: &str, select: &Select) -> Response<Cursor<Vec<u8>>> {
    let mut selected = String::new();
    let mut excluded = String::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "select" => selected = value.into_owned(),
            "exclude" => excluded = value.into_owned(),
            _ => {}
        }
    }
    let (status, body) = match select(&selected, &excluded) {
        Ok(ids) => (200, json!({ "ids": ids })),
        Err(error) => (400, json!({ "error": error })),
    };
    with_headers(
        Response::from_data(body.to_string().into_bytes()).with_status_code(status),
        "application/json",
    )
}

fn text(status: u16, message: &str) -> Response<Cursor<Vec<u8>>> {
    with_headers(
        Response::from_data(message.as_bytes().to_vec()).with_status_code(status),
        "text/plain; charset=utf-8",
    )
}

fn with_headers(
    response: Response<Cursor<Vec<u8>>>,
    content_type: &str,
) -> Response<Cursor<Vec<u8>>> {
    let header = |name: &str, value: &str| {
        Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
    };
    response
        .with_header(header("Content-Type", content_type))
        .with_header(header("X-Content-Type-Options", "nosniff"))
        .with_header(header("Cache-Control", "no-cache"))
}
