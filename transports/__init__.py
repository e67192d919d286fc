"""HTTP/1.1 (h11), long-polling and WebSocket (wsproto) on trio sockets; no Engine.IO knowledge."""
