package dev.handoff.spring;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.handoff.spring.TestAppProcess.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A successor warms its request path up through the application's own handler before READY, on a
 * connector of its own: its predecessor, which accepts on the same listening socket meanwhile, never sees
 * a warm-up request. A cold start does not warm up, nor a successor with the warm-up turned off.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SpringWarmUpTest {

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void aSuccessorWarmsUpThroughTheApplicationsHandlerOnAConnectorOfItsOwn(String server) throws Exception {
        List<TestAppProcess> generations = new ArrayList<>();
        try {
            generations.add(TestAppProcess.start(TestAppProcess.args(temp, server), 1));
            generations.add(TestAppProcess.start(TestAppProcess.args(temp, server, "--handoff.warm-up.requests=300"), 2));
            assertEquals("WARM-UPS 0", drained(generations.get(0)), "a cold start does not warm up, and the "
                    + "successor's warm-up requests never reached its predecessor");
            generations.add(TestAppProcess.start(TestAppProcess.args(temp, server, "--handoff.warm-up.enabled=false"), 3));
            assertEquals("WARM-UPS 300", drained(generations.get(1)), "every warm-up request reached the successor's handler");
            String third = get(generations.get(2).port("http"), "/warm-ups");
            assertTrue(third.contains("\"warmUps\":0") && third.contains("\"pid\":" + generations.get(2).pid()), third);
        } finally {
            generations.forEach(TestAppProcess::close);
        }
    }

    /** The warm-up requests the generation's handler saw, as it says once drained; then it exits with 0. */
    private static String drained(TestAppProcess generation) throws Exception {
        String line = generation.child().awaitLine("WARM-UPS ", WAIT);
        assertEquals(0, generation.child().awaitExit(WAIT));
        return line;
    }

    private static String get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
