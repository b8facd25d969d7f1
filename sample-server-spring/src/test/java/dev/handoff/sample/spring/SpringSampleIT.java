package dev.handoff.sample.spring;

import dev.handoff.core.testing.JavaChild;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The executable Spring sample jar with the README's command line: READY, the contract, a takeover. */
@Timeout(300)
class SpringSampleIT {

    private static final Path JAR = Path.of("..", "sample-server", "target", "sample-server-spring.jar");
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path temp;

    @Test
    void startingTheSameCommandAgainTakesOverWhileASlowRequestCompletes() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                JAR.toString(), "--server.port=" + port, "--handoff.socket=" + temp.resolve("spring.sock"));
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (JavaChild first = JavaChild.start(new ProcessBuilder(command))) {
            String ready = first.awaitLine("READY pid=" + first.pid(), WAIT);
            assertTrue(ready.endsWith("generation=1"), ready);
            String identity = get(client, port, "/").body();
            assertTrue(identity.contains("\"pid\":" + first.pid()) && identity.contains("\"generation\":1"), identity);
            CompletableFuture<HttpResponse<String>> slow = client.sendAsync(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/slow?ms=3000")).build(), HttpResponse.BodyHandlers.ofString());
            Thread.sleep(300);
            try (JavaChild second = JavaChild.start(new ProcessBuilder(command))) {
                assertTrue(second.awaitLine("READY pid=" + second.pid(), WAIT).endsWith("generation=2"));
                HttpResponse<String> slowResponse = slow.get(30, TimeUnit.SECONDS);
                assertEquals(200, slowResponse.statusCode());
                assertTrue(slowResponse.body().contains("\"pid\":" + first.pid()), slowResponse.body());
                assertEquals(0, first.awaitExit(WAIT), "the old copy exits with status 0 once drained");
                String body = get(client, port, "/").body();
                assertTrue(body.contains("\"pid\":" + second.pid()) && body.contains("\"generation\":2"), body);
                String state = get(client, port, "/actuator/handoff").body();
                assertTrue(state.contains("\"inherited\":true"), state);
            }
        }
    }

    private static HttpResponse<String> get(HttpClient client, int port, String path) throws Exception {
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return response;
    }
}
