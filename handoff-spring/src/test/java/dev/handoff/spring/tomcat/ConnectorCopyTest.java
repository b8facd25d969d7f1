package dev.handoff.spring.tomcat;

import org.apache.catalina.connector.Connector;
import org.apache.coyote.ajp.AjpNioProtocol;
import org.apache.coyote.http11.Http11Nio2Protocol;
import org.apache.coyote.http11.Http11NioProtocol;
import org.apache.coyote.http2.Http2Protocol;
import org.apache.tomcat.util.net.SSLHostConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A connector an application made itself, rebuilt on Handoff's protocol with what it was given. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ConnectorCopyTest {

    @Test
    void anHttp11NioConnectorIsCopiedOntoHandoffsProtocolWithItsSettings() {
        Connector original = new Connector();
        original.setPort(18123);
        original.setScheme("https");
        original.setSecure(true);
        original.setRedirectPort(18443);
        original.setMaxPostSize(4321);
        original.setProperty("maxKeepAliveRequests", "-1");
        original.setProperty("keepAliveTimeout", "123456");
        original.setProperty("relaxedQueryChars", "[]");
        original.setProperty("socket.soKeepAlive", "true");
        original.setProperty("socket.appReadBufSize", "16384");
        Http11NioProtocol protocol = (Http11NioProtocol) original.getProtocolHandler();
        Executor shared = Executors.newSingleThreadExecutor();
        protocol.setExecutor(shared);
        SSLHostConfig host = new SSLHostConfig();
        host.setHostName("example.test");
        protocol.addSslHostConfig(host);
        Http2Protocol http2 = new Http2Protocol();
        protocol.addUpgradeProtocol(http2);

        Connector copy = ConnectorCopy.onHandoffProtocol(original).orElseThrow();

        HandoffHttp11NioProtocol copied = assertInstanceOf(HandoffHttp11NioProtocol.class, copy.getProtocolHandler());
        assertEquals(18123, copy.getPort());
        assertEquals("https", copy.getScheme());
        assertTrue(copy.getSecure());
        assertEquals(18443, copy.getRedirectPort());
        assertEquals(4321, copy.getMaxPostSize());
        assertEquals(-1, ConnectorCopy.maxKeepAliveRequests(copied), "read where it is kept: the getter says 1 until bound");
        assertEquals(123456, copied.getKeepAliveTimeout());
        assertEquals("[]", copied.getRelaxedQueryChars());
        assertEquals("true", copied.getProperty("socket.soKeepAlive"));
        assertEquals("16384", copied.getProperty("socket.appReadBufSize"));
        assertSame(shared, copied.getExecutor());
        assertArrayEquals(new SSLHostConfig[] {host}, copied.findSslHostConfigs());
        assertArrayEquals(new Object[] {http2}, copied.findUpgradeProtocols());
        Http11NioProtocol untouched = (Http11NioProtocol) new Connector().getProtocolHandler();
        assertEquals(untouched.getConnectionTimeout(), copied.getConnectionTimeout(), "what was not set keeps Tomcat's default");
        assertEquals(untouched.getAcceptCount(), copied.getAcceptCount(), "what was not set keeps Tomcat's default");
    }

    @Test
    void aConnectorAlreadyOnHandoffsProtocolIsKeptAsItIs() {
        Connector connector = new Connector(HandoffHttp11NioProtocol.class.getName());
        assertSame(connector, ConnectorCopy.onHandoffProtocol(connector).orElseThrow());
    }

    @Test
    void connectorsOnOtherProtocolsCannotBeHandedOver() {
        assertEquals(Optional.empty(), ConnectorCopy.onHandoffProtocol(new Connector(AjpNioProtocol.class.getName())));
        assertEquals(Optional.empty(), ConnectorCopy.onHandoffProtocol(new Connector(Http11Nio2Protocol.class.getName())));
    }
}
