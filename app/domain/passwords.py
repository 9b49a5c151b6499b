"""What a staff password must be: long enough, and not easy to guess.

Guessability is estimated by zxcvbn (a maintained port of Dropbox's estimator: common
passwords, words, names, keyboard patterns, dates, l33t), fed with the account's own words
(username, name shown). Its lists are English-centred, so the passwords most used in China
(from the published analyses of the large Chinese leaks) are refused by name as well.
"""
from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 200
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable" (about 10^8 to 10^10 guesses)
# The most common passwords in the Chinese leaks (CSDN, 12306, Tianya, 178, Duduniu …),
# lowercased. Short ones are refused by the length rule anyway; these are the long ones and
# their everyday variants.
COMMON_IN_CHINA = frozenset(["123456789", "1234567890", "12345678910", "5201314520", "1314520520", "5211314521", "woaini1314", "woaini520", "woaini521", "woainima", "woainiwoaini", "aini1314520", "aini5201314", "iloveyou1314", "iloveyou520", "qwe1234567", "qwe123456789", "qweasdzxc123", "1qaz2wsx3edc", "1q2w3e4r5t", "1qazxsw23edc", "zxcvbnm123", "asdfghjkl123", "qq5201314", "qq123456789", "147258369258", "147852369", "1472583690", "9876543210", "0123456789", "a1234567890", "a123456789", "aa123456789", "abc1234567", "abc123456789", "wang1234567", "zhang123456", "li123456789", "liu123456789", "chen123456", "wangyang123", "zhangwei123", "woshishui123", "nihao123456", "password123", "passw0rd123", "admin123456", "root123456", "1234qwer5678", "qwer123456", "asd123456789", "zxc123456789", "woaini1314520", "88888888888", "11111111111"])


def password_problem(password: str, *, username: str = "", user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why this password may not be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if username and password.strip().lower() == username:
        return "must not be the username"
    if password.strip().lower() in COMMON_IN_CHINA:
        return "is one of the most common passwords"
    if zxcvbn(password, user_inputs=[word for word in (username, *user_inputs) if word])["score"] < MIN_SCORE:
        return "is too easy to guess: use a longer phrase, or less common words"
    return None
