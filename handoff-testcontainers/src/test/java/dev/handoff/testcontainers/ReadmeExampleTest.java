package dev.handoff.testcontainers;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's "Test your own app's restarts" shows {@link ExampleRestartIT} as it compiles and runs. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ReadmeExampleTest {

    @Test
    void theReadmeHoldsTheExampleTestWordForWord() throws Exception {
        String source = Files.readString(Path.of("src/test/java/dev/handoff/testcontainers/ExampleRestartIT.java"));
        String example = source.substring(source.indexOf("class ExampleRestartIT"));
        String readme = Files.readString(Path.of("..", "README.md"));
        assertTrue(readme.contains(example), "README.md must hold ExampleRestartIT.java from 'class ExampleRestartIT' on, as it is");
    }
}
