/**
 * Handoff: zero-downtime restarts for Java servers. The API is {@code dev.handoff.core} alone
 * ({@link dev.handoff.core.Handoff}, {@link dev.handoff.core.HandoffOptions}, {@link dev.handoff.core.Takeover},
 * {@link dev.handoff.core.Connection}, {@link dev.handoff.core.HandoffResult}); every other package is the
 * engine's own. On the module path the JVM needs
 * {@code --add-opens java.base/sun.nio.ch=dev.handoff.core --add-opens java.base/java.io=dev.handoff.core}
 * (see README, "JVM flags").
 */
module dev.handoff.core {
    requires transitive com.fasterxml.jackson.databind;
    requires org.newsclub.net.unix;
    // junixsocket's native library: its loader finds it by class name, so nothing would resolve the module.
    requires com.kohlschutter.junixsocket.nativecommon;
    requires org.slf4j;
    // Optional: meters are recorded only when the application passes a registry.
    requires static micrometer.core;

    exports dev.handoff.core;

    // Jackson reads and writes the protocol's messages and the manifest by reflection.
    opens dev.handoff.core.wire to com.fasterxml.jackson.databind;
    opens dev.handoff.core.manifest to com.fasterxml.jackson.databind;
    opens dev.handoff.core.fd to com.fasterxml.jackson.databind; // FdType, in the manifest's file entries
}
