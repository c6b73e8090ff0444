//! Shared by the examples: the gateway they run on. With no arguments an
//! example starts the embedded gateway in-process; with `--gateway URL` it
//! uses that one instead.

/// The gateway an example talks to.
pub struct ExampleGateway {
    /// Where to connect.
    pub url: String,
    embedded: Option<aether_gateway::RunningGateway>,
}

impl ExampleGateway {
    /// `--gateway URL` from the command line, else a fresh embedded gateway
    /// (dev mode). Prints the URL.
    pub async fn from_args() -> Result<Self, aether_gateway::GatewayError> {
        let args: Vec<String> = std::env::args().collect();
        let external = args
            .iter()
            .position(|a| a == "--gateway")
            .and_then(|i| args.get(i + 1))
            .cloned();
        let gateway = match external {
            Some(url) => ExampleGateway {
                url,
                embedded: None,
            },
            None => {
                let gw = aether_gateway::start(aether_gateway::GatewayConfig::dev()).await?;
                ExampleGateway {
                    url: gw.url(),
                    embedded: Some(gw),
                }
            }
        };
        println!("gateway: {}", gateway.url);
        Ok(gateway)
    }

    /// Shuts the embedded gateway down (an external one is left alone).
    pub async fn shutdown(self) {
        if let Some(gw) = self.embedded {
            gw.shutdown().await;
        }
    }
}
