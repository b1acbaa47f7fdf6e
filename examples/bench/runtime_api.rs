//! A minimal Lambda Runtime API served in process: the spawned function and
//! hello world fetch their invocations from it and post their answers to it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

use crate::Res;

pub enum Event {
    /// A `GET .../invocation/next` arrived.
    Next(Instant),
    Response {
        id: String,
        at: Instant,
        body: Bytes,
    },
    Error {
        what: String,
        body: Bytes,
    },
}

struct State {
    queue: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    events: mpsc::UnboundedSender<Event>,
}

pub struct Server {
    pub addr: SocketAddr,
    queue: mpsc::UnboundedSender<(String, String)>,
    pub events: mpsc::UnboundedReceiver<Event>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Drops the listener and every connection task with it.
        self.task.abort();
    }
}

impl Server {
    pub async fn start() -> Res<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (qtx, qrx) = mpsc::unbounded_channel();
        let (etx, erx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            queue: Mutex::new(qrx),
            events: etx,
        });
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let st = state.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| serve(st.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Server {
            addr,
            queue: qtx,
            events: erx,
            task,
        })
    }

    /// Queues an invocation; a waiting `next` gets it at once.
    pub fn push(&self, id: String, event: String) {
        let _ = self.queue.send((id, event));
    }
}

fn reply(status: u16) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r
}

async fn serve(
    st: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(reply(404));
    };
    if req.method() == Method::GET && rest == "invocation/next" {
        let _ = st.events.send(Event::Next(at));
        let next = st.queue.lock().await.recv().await;
        let Some((id, body)) = next else {
            return Ok(reply(500));
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + 30_000;
        let r = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:customers-api",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            )
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| reply(500));
        return Ok(r);
    }
    if req.method() != Method::POST {
        return Ok(reply(404));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let at = Instant::now();
    if rest == "init/error" {
        let _ = st.events.send(Event::Error {
            what: "init/error".into(),
            body,
        });
    } else if let Some(inv) = rest.strip_prefix("invocation/") {
        if let Some(id) = inv.strip_suffix("/response") {
            let _ = st.events.send(Event::Response {
                id: id.to_owned(),
                at,
                body,
            });
        } else if let Some(id) = inv.strip_suffix("/error") {
            let _ = st.events.send(Event::Error {
                what: format!("invocation {id} error"),
                body,
            });
        } else {
            return Ok(reply(404));
        }
    } else {
        return Ok(reply(404));
    }
    Ok(reply(202))
}
