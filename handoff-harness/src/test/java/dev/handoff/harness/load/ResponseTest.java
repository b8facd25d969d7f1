package dev.handoff.harness.load;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Responses one after another on one kept-alive connection, each framed the way HTTP/1.1 frames it. */
@Timeout(10)
class ResponseTest {

    @Test
    void eachFramingEndsItsResponseWhereTheNextBegins() throws IOException {
        InputStream in = stream("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
                + "HTTP/1.1 204 No Content\r\n\r\n" // no length, and none needed
                + "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n" // the length of what a 200 would have sent
                + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\n\r\n"
                + "HTTP/1.0 200 OK\r\n\r\nuntil the close");
        assertEquals("hi", Response.read(in).body());
        Response noContent = Response.read(in);
        assertEquals(204, noContent.status());
        assertTrue(noContent.keepAlive());
        assertEquals("", noContent.body());
        assertEquals("", Response.read(in).body());
        assertEquals("abc", Response.read(in).body());
        Response closing = Response.read(in);
        assertFalse(closing.keepAlive(), "HTTP/1.0 without keep-alive");
        assertEquals("until the close", closing.body());
    }

    @Test
    void aBodyWithoutFramingOnAConnectionKeptOpenIsAnError() {
        IOException e = assertThrows(IOException.class, () -> Response.read(stream("HTTP/1.1 200 OK\r\n\r\nbody")));
        assertTrue(e.getMessage().contains("without a length"), e.getMessage());
        assertThrows(EOFException.class, () -> Response.read(stream("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")));
    }

    private static InputStream stream(String text) {
        return new BufferedInputStream(new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII)));
    }
}
