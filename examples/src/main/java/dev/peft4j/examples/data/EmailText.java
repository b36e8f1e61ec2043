package dev.peft4j.examples.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a raw RFC 822 e-mail into the text a classifier sees: the subject, a newline, the body.
 *
 * <p>The rule, roughly what a human reader sees: headers are dropped except the subject (RFC 2047
 * encoded words decoded); MIME multiparts are walked and the {@code text/plain} parts kept, or
 * the {@code text/html} parts when there is no plain text; attachments are dropped; base64 and
 * quoted-printable bodies are decoded with their declared charset (ISO-8859-1 when unknown); HTML
 * loses its comments, scripts, styles and tags and has its common entities decoded; whitespace
 * runs become one space; the result is cut at the last space before {@link #MAX_CHARS}. The cap
 * only bounds tokenization work: the tokenizer truncates to 128 tokens, a few hundred characters.
 */
public final class EmailText {

    /** The maximal length of the produced text, in characters. */
    public static final int MAX_CHARS = 2000;

    /** Multiparts nested deeper than this are ignored (a guard against pathological mail). */
    private static final int MAX_DEPTH = 8;

    private static final Pattern ENCODED_WORD =
            Pattern.compile("=\\?([^?]+)\\?([BbQq])\\?([^?]*)\\?=");
    private static final Pattern BETWEEN_ENCODED_WORDS = Pattern.compile("(?<=\\?=)\\s+(?==\\?)");
    private static final Pattern HTML_HINT =
            Pattern.compile("(?i)<\\s*(html|body|p|br|div|table|font|a\\s|img\\s)");
    private static final Pattern HTML_DROPPED =
            Pattern.compile("(?is)<!--.*?-->|<(script|style)\\b[^>]*>.*?</\\1\\s*>");
    private static final Pattern HTML_TAG = Pattern.compile("(?s)<[^>]*>");
    private static final Pattern HTML_ENTITY =
            Pattern.compile("&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});");
    private static final Map<String, String> NAMED_ENTITIES =
            Map.of(
                    "nbsp", " ", "amp", "&", "lt", "<", "gt", ">", "quot", "\"", "apos", "'",
                    "copy", "\u00a9", "reg", "\u00ae", "middot", "\u00b7", "bull", "\u2022");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private EmailText() {}

    /** One MIME entity: lower-cased header names to unfolded values, and the raw body. */
    private record Part(Map<String, String> headers, String body) {

        String header(String name, String fallback) {
            return headers.getOrDefault(name, fallback);
        }
    }

    /**
     * A message's decoded Subject line and body text (whitespace runs made one space; the body cut
     * at the last space before {@link #MAX_CHARS}).
     *
     * @param subject the decoded subject, or "" when there is none
     * @param body the body text
     */
    public record Message(String subject, String body) {}

    /** Returns the classifier text of a raw message (headers and body as stored in the corpus). */
    public static String toText(String rawMessage) {
        Message m = uncapped(rawMessage);
        String subject = m.subject();
        String body = m.body();
        String text = subject.isEmpty() ? body : body.isEmpty() ? subject : subject + "\n" + body;
        return cap(text, MAX_CHARS);
    }

    /** Returns the subject and the body text of a raw message, apart. */
    public static Message message(String rawMessage) {
        Message m = uncapped(rawMessage);
        return new Message(m.subject(), cap(m.body(), MAX_CHARS));
    }

    private static Message uncapped(String rawMessage) {
        Part message = parse(rawMessage.replace("\r\n", "\n"));
        String subject = normalizeWhitespace(decodeEncodedWords(message.header("subject", "")));
        String body = normalizeWhitespace(bodyText(message));
        return new Message(subject, body);
    }

    private static Part parse(String entity) {
        // an entity starting with a blank line has no headers (a MIME part may omit them)
        boolean noHeaders = entity.startsWith("\n");
        int split = noHeaders ? 0 : entity.indexOf("\n\n");
        String head = split < 0 ? entity : entity.substring(0, split);
        String body = split < 0 ? "" : entity.substring(split + (noHeaders ? 1 : 2));
        List<String[]> fields = new ArrayList<>();
        for (String line : head.split("\n", -1)) {
            boolean continuation = !line.isEmpty() && Character.isWhitespace(line.charAt(0));
            if (continuation && !fields.isEmpty()) {
                String[] last = fields.get(fields.size() - 1);
                last[1] = last[1] + " " + line.strip();
                continue;
            }
            int colon = line.indexOf(':');
            boolean isField = colon > 0 && line.substring(0, colon).indexOf(' ') < 0;
            // a non-field line (the mbox "From " line) swallows its continuations
            fields.add(
                    isField
                            ? new String[] {
                                line.substring(0, colon).toLowerCase(Locale.ROOT),
                                line.substring(colon + 1).strip()
                            }
                            : new String[] {null, ""});
        }
        Map<String, String> headers = new HashMap<>();
        for (String[] field : fields) {
            if (field[0] != null) {
                headers.putIfAbsent(field[0], field[1]);
            }
        }
        return new Part(headers, body);
    }

    private static String bodyText(Part message) {
        List<String> plain = new ArrayList<>();
        List<String> html = new ArrayList<>();
        collect(message, plain, html, 0);
        List<String> chosen = plain.stream().anyMatch(t -> !t.isBlank()) ? plain : html;
        return String.join("\n", chosen);
    }

    private static void collect(Part part, List<String> plain, List<String> html, int depth) {
        String contentType = part.header("content-type", "text/plain");
        String mediaType = contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        if (mediaType.startsWith("multipart/")) {
            String boundary = parameter(contentType, "boundary");
            if (boundary != null && depth < MAX_DEPTH) {
                for (String child : multipartChildren(part.body(), boundary)) {
                    collect(parse(child), plain, html, depth + 1);
                }
                return;
            }
        } else if (!mediaType.startsWith("text/") && part.headers().containsKey("content-type")) {
            return; // attachment, image, ...
        }
        String text = decodeBody(part, parameter(contentType, "charset"));
        if (mediaType.equals("text/html") || HTML_HINT.matcher(text).find()) {
            html.add(stripHtml(text));
        } else {
            plain.add(text);
        }
    }

    private static List<String> multipartChildren(String body, String boundary) {
        List<String> children = new ArrayList<>();
        String delimiter = "--" + boundary;
        StringBuilder current = null;
        for (String line : body.split("\n", -1)) {
            if (line.startsWith(delimiter)) {
                if (current != null) {
                    children.add(current.toString());
                }
                boolean closing = line.startsWith(delimiter + "--");
                current = closing ? null : new StringBuilder();
                if (closing) {
                    break;
                }
            } else if (current != null) {
                current.append(line).append('\n');
            }
        }
        if (current != null) {
            children.add(current.toString()); // unterminated last part
        }
        return children;
    }

    private static String parameter(String headerValue, String name) {
        Matcher m =
                Pattern.compile("(?i)(?:^|;)\\s*" + name + "\\s*=\\s*(?:\"([^\"]*)\"|([^;\\s]+))")
                        .matcher(headerValue);
        if (!m.find()) {
            return null;
        }
        return m.group(1) != null ? m.group(1) : m.group(2);
    }

    private static String decodeBody(Part part, String charsetName) {
        String encoding = part.header("content-transfer-encoding", "7bit").toLowerCase(Locale.ROOT);
        if (encoding.contains("base64")) {
            // padding is optional for the decoder; a lone trailing symbol carries no full byte
            String base64 = part.body().replaceAll("[^A-Za-z0-9+/]", "");
            int usable = base64.length() % 4 == 1 ? base64.length() - 1 : base64.length();
            byte[] bytes = Base64.getDecoder().decode(base64.substring(0, usable));
            return new String(bytes, charset(charsetName));
        }
        if (encoding.contains("quoted-printable")) {
            return new String(quotedPrintable(part.body(), false), charset(charsetName));
        }
        return part.body();
    }

    /** Decodes quoted-printable; in RFC 2047 "Q" words an underscore stands for a space. */
    private static byte[] quotedPrintable(String encoded, boolean underscoreIsSpace) {
        String text = encoded.replace("=\n", "");
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean escape =
                    c == '='
                            && i + 2 < text.length()
                            && isHex(text.charAt(i + 1))
                            && isHex(text.charAt(i + 2));
            if (escape) {
                out.write(Integer.parseInt(text.substring(i + 1, i + 3), 16));
                i += 2;
            } else if (c == '_' && underscoreIsSpace) {
                out.write(' ');
            } else if (c < 256) {
                out.write(c);
            } else {
                out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        return out.toByteArray();
    }

    private static boolean isHex(char c) {
        return Character.digit(c, 16) >= 0;
    }

    private static Charset charset(String name) {
        try {
            return name == null ? StandardCharsets.ISO_8859_1 : Charset.forName(name.strip());
        } catch (IllegalArgumentException unsupported) {
            return StandardCharsets.ISO_8859_1;
        }
    }

    /** Decodes RFC 2047 encoded words such as {@code =?utf-8?Q?caf=C3=A9?=} in a header. */
    static String decodeEncodedWords(String header) {
        String joined = BETWEEN_ENCODED_WORDS.matcher(header).replaceAll("");
        Matcher m = ENCODED_WORD.matcher(joined);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            byte[] bytes;
            try {
                bytes =
                        m.group(2).equalsIgnoreCase("B")
                                ? Base64.getMimeDecoder().decode(m.group(3))
                                : quotedPrintable(m.group(3), true);
            } catch (IllegalArgumentException badBase64) {
                bytes = m.group().getBytes(StandardCharsets.ISO_8859_1);
            }
            String decoded = new String(bytes, charset(m.group(1)));
            m.appendReplacement(out, Matcher.quoteReplacement(decoded));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Removes HTML comments, scripts, styles and tags, and decodes the common entities. */
    static String stripHtml(String html) {
        String text = HTML_DROPPED.matcher(html).replaceAll(" ");
        text = HTML_TAG.matcher(text).replaceAll(" ");
        Matcher m = HTML_ENTITY.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(out, Matcher.quoteReplacement(entity(m.group(1), m.group())));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String entity(String name, String original) {
        if (name.charAt(0) != '#') {
            return NAMED_ENTITIES.getOrDefault(name.toLowerCase(Locale.ROOT), original);
        }
        boolean hex = name.length() > 1 && (name.charAt(1) == 'x' || name.charAt(1) == 'X');
        int codePoint = Integer.parseInt(name.substring(hex ? 2 : 1), hex ? 16 : 10);
        return Character.isValidCodePoint(codePoint) ? Character.toString(codePoint) : " ";
    }

    /** Collapses every whitespace run to one space and trims. */
    static String normalizeWhitespace(String text) {
        return WHITESPACE.matcher(text).replaceAll(" ").strip();
    }

    /** Cuts text to at most {@code maxChars}, at the last space before the limit if any. */
    static String cap(String text, int maxChars) {
        if (text.length() <= maxChars) {
            return text;
        }
        int cut = text.lastIndexOf(' ', maxChars);
        return text.substring(0, cut > maxChars / 2 ? cut : maxChars).strip();
    }
}
