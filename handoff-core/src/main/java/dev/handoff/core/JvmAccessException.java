package dev.handoff.core;

/**
 * The JVM does not open the JDK internals Handoff needs to rebuild channels from file descriptors
 * ({@code java.base/sun.nio.ch} and {@code java.base/java.io}): it was started without the flags that
 * {@link #requiredFlags()} names, and the executable jar it runs has no {@code Add-Opens} manifest entry.
 */
public class JvmAccessException extends IllegalStateException {

    private final String requiredFlags;

    JvmAccessException(String message, String requiredFlags, Throwable cause) {
        super(message, cause);
        this.requiredFlags = requiredFlags;
    }

    /**
     * The {@code --add-opens} flags for the way Handoff runs: to {@code ALL-UNNAMED} on the class path, to
     * {@code dev.handoff.core} on the module path.
     */
    public String requiredFlags() {
        return requiredFlags;
    }
}
