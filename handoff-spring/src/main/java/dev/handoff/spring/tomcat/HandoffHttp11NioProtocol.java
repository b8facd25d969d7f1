package dev.handoff.spring.tomcat;

import org.apache.coyote.http11.Http11NioProtocol;

/** Tomcat's HTTP/1.1 NIO protocol on a {@link HandoffNioEndpoint}. */
public class HandoffHttp11NioProtocol extends Http11NioProtocol {

    public HandoffHttp11NioProtocol() {
        super(new HandoffNioEndpoint());
    }
}
