package dev.peft4j.examples.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class EmailTextTest {

    @Test
    void plainMessageKeepsSubjectAndBodyAndDropsHeaders() {
        String raw =
                "From someone@example.com  Thu Aug 22 12:36:23 2002\n"
                        + "Return-Path: <someone@example.com>\n"
                        + "Received: from localhost (localhost [127.0.0.1])\n"
                        + "\tby phobos.labs.example.com (Postfix)\n"
                        + "Subject: Re: [SAdev] testing with\n"
                        + "    less rules\n"
                        + "Content-Type: text/plain; charset=us-ascii\n"
                        + "\n"
                        + "Hello  there,\n\n  the build\tis green.\n";
        assertEquals(
                "Re: [SAdev] testing with less rules\nHello there, the build is green.",
                EmailText.toText(raw));
    }

    @Test
    void encodedWordsInTheSubjectAreDecoded() {
        assertEquals(
                "café crème",
                EmailText.decodeEncodedWords(
                        "=?utf-8?Q?caf=C3=A9_?= =?iso-8859-1?B?"
                                + Base64.getEncoder()
                                        .encodeToString(
                                                "crème".getBytes(StandardCharsets.ISO_8859_1))
                                + "?="));
    }

    @Test
    void multipartAlternativePrefersTheQuotedPrintablePlainPart() {
        String raw =
                "Subject: offer\n"
                        + "Content-Type: multipart/alternative; boundary=\"XYZ\"\n"
                        + "\n"
                        + "This is a multi-part message in MIME format.\n"
                        + "--XYZ\n"
                        + "Content-Type: text/plain; charset=\"iso-8859-1\"\n"
                        + "Content-Transfer-Encoding: quoted-printable\n"
                        + "\n"
                        + "Save 50=25 on a very long line that is soft=\n"
                        + "-wrapped, na=EFve.\n"
                        + "--XYZ\n"
                        + "Content-Type: text/html\n"
                        + "\n"
                        + "<html><body><b>HTML version</b></body></html>\n"
                        + "--XYZ--\n";
        assertEquals(
                "offer\nSave 50% on a very long line that is soft-wrapped, naïve.",
                EmailText.toText(raw));
    }

    @Test
    void htmlOnlyBase64BodyIsDecodedAndStripped() {
        String html =
                "<html><head><style>p {color: red}</style><script>var x = 1;</script></head>"
                        + "<body><!-- tracking --><p>Buy&nbsp;now &amp; save</p><br>"
                        + "<a href=\"http://x\">click&#33;</a> &#x263A;</body></html>";
        String raw =
                "Subject: =?us-ascii?Q?Free_money?=\n"
                        + "Content-Type: text/html; charset=utf-8\n"
                        + "Content-Transfer-Encoding: base64\n"
                        + "\n"
                        + Base64.getMimeEncoder()
                                .encodeToString(html.getBytes(StandardCharsets.UTF_8))
                        + "\n";
        assertEquals("Free money\nBuy now & save click! \u263A", EmailText.toText(raw));
    }

    @Test
    void attachmentsAreDroppedAndPlainTextWithTagsIsStripped() {
        String raw =
                "Subject: report\n"
                        + "Content-Type: multipart/mixed; boundary=b1\n"
                        + "\n"
                        + "--b1\n"
                        + "\n"
                        + "<p>see <i>attached</i></p>\n"
                        + "--b1\n"
                        + "Content-Type: application/octet-stream\n"
                        + "Content-Transfer-Encoding: base64\n"
                        + "\n"
                        + "AAECAwQFBgc=\n"
                        + "--b1--\n";
        assertEquals("report\nsee attached", EmailText.toText(raw));
    }

    @Test
    void longTextIsCutAtAWordBoundaryUnderTheCap() {
        String body = "word ".repeat(1000);
        String text = EmailText.toText("Subject: s\n\n" + body);
        assertTrue(text.length() <= EmailText.MAX_CHARS, "length " + text.length());
        assertTrue(text.length() > EmailText.MAX_CHARS - 6, "length " + text.length());
        assertTrue(text.endsWith("word"), text.substring(text.length() - 10));
        assertFalse(text.contains("  "));
    }
}
