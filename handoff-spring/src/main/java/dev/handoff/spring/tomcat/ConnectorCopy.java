package dev.handoff.spring.tomcat;

import org.apache.catalina.connector.Connector;
import org.apache.coyote.AbstractProtocol;
import org.apache.coyote.ProtocolHandler;
import org.apache.coyote.UpgradeProtocol;
import org.apache.coyote.http11.Http11NioProtocol;
import org.apache.tomcat.util.net.AbstractEndpoint;
import org.apache.tomcat.util.net.SSLHostConfig;
import org.apache.tomcat.util.net.SocketProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * A connector an application made itself, rebuilt on {@link HandoffHttp11NioProtocol}: Tomcat fixes a
 * protocol's endpoint when it makes the protocol, so the only way to hand over such a connector's socket
 * and connections is a new connector with everything the application set on the old one. Its settings
 * are read and written through their public getters and setters (the connector's, the protocol's, which
 * include its endpoint's, and the endpoint's {@code socket.*} properties), and its TLS host configurations
 * and upgrade protocols (HTTP/2) are carried over.
 */
final class ConnectorCopy {

    private static final Logger log = LoggerFactory.getLogger(ConnectorCopy.class);

    private ConnectorCopy() {
    }

    /**
     * The connector on Handoff's protocol: itself if it is on it already, a copy if it is on Tomcat's
     * HTTP/1.1 NIO protocol, and empty for any other protocol (AJP, NIO2, APR), which cannot be handed over.
     */
    static Optional<Connector> onHandoffProtocol(Connector original) {
        ProtocolHandler handler = original.getProtocolHandler();
        if (handler instanceof HandoffHttp11NioProtocol) {
            return Optional.of(original);
        }
        if (handler == null || handler.getClass() != Http11NioProtocol.class) {
            return Optional.empty();
        }
        Http11NioProtocol from = (Http11NioProtocol) handler;
        HandoffHttp11NioProtocol to = new HandoffHttp11NioProtocol();
        copyProperties(from, to);
        for (String property : propertiesOf(SocketProperties.class)) {
            String name = "socket." + property;
            String value = from.getProperty(name);
            if (value != null && !value.equals(to.getProperty(name))) {
                to.setProperty(name, value);
            }
        }
        to.setMaxKeepAliveRequests(maxKeepAliveRequests(from));
        for (SSLHostConfig config : from.findSslHostConfigs()) {
            to.addSslHostConfig(config);
        }
        for (UpgradeProtocol upgrade : from.findUpgradeProtocols()) {
            to.addUpgradeProtocol(upgrade);
        }
        Connector copy = new Connector(to);
        copyProperties(original, copy);
        return Optional.of(copy);
    }

    /**
     * The one getter that does not return what was set: Tomcat's says 1 (no keep-alive) while the endpoint
     * is not bound, so the setting is read from the endpoint itself.
     */
    static int maxKeepAliveRequests(Http11NioProtocol protocol) {
        try {
            Method endpoint = AbstractProtocol.class.getDeclaredMethod("getEndpoint");
            endpoint.setAccessible(true);
            Field setting = AbstractEndpoint.class.getDeclaredField("maxKeepAliveRequests");
            setting.setAccessible(true);
            return setting.getInt(endpoint.invoke(protocol));
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("this Tomcat's endpoint keeps its keep-alive limit elsewhere: the "
                    + "connector cannot be copied with its settings", e);
        }
    }

    /**
     * Each setting with a public getter and setter whose value differs: set on {@code to} as on {@code from}.
     * Only values (and a shared executor): a getter of anything else may make what it returns (Tomcat's
     * utility executor does), and such objects are Tomcat's to make at start.
     */
    private static <T> void copyProperties(T from, T to) {
        for (Method getter : from.getClass().getMethods()) {
            Method setter = setterOf(from.getClass(), getter);
            if (setter == null || !isValue(getter.getReturnType())) {
                continue;
            }
            try {
                Object value = getter.invoke(from);
                if (!Objects.equals(value, getter.invoke(to))) {
                    setter.invoke(to, value);
                }
            } catch (IllegalAccessException | InvocationTargetException | RuntimeException e) {
                log.warn("could not carry the setting '{}' over to the handed-over copy of a Tomcat connector: {}",
                        property(getter), e instanceof InvocationTargetException target ? target.getCause() : e);
            }
        }
    }

    private static boolean isValue(Class<?> type) {
        return type.isPrimitive() || type.isEnum() || type == String.class || Number.class.isAssignableFrom(type)
                || type == Boolean.class || type == Character.class || type == InetAddress.class || type == Executor.class;
    }

    /** The settings of {@code type}: those with a public getter and a setter of its type. */
    private static List<String> propertiesOf(Class<?> type) {
        return Arrays.stream(type.getMethods()).filter(getter -> setterOf(type, getter) != null)
                .map(ConnectorCopy::property).toList();
    }

    /** The public setter of the property {@code getter} reads, taking what it returns; null if none. */
    private static Method setterOf(Class<?> type, Method getter) {
        String property = property(getter);
        if (property == null) {
            return null;
        }
        try {
            return type.getMethod("set" + property, getter.getReturnType());
        } catch (NoSuchMethodException readOnly) {
            return null;
        }
    }

    /** The property a public instance getter reads ({@code getPort}, {@code isSSLEnabled}), or null. */
    private static String property(Method method) {
        if (method.getParameterCount() != 0 || Modifier.isStatic(method.getModifiers())
                || method.getReturnType() == void.class || method.getDeclaringClass() == Object.class) {
            return null;
        }
        String name = method.getName();
        String property = name.startsWith("get") ? name.substring(3)
                : name.startsWith("is") && method.getReturnType() == boolean.class ? name.substring(2) : null;
        return property == null || property.isEmpty() ? null : property;
    }
}
