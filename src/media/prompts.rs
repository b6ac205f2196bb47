//! Prompt cache: every IVR prompt is read once at start (WAV via hound), cut into 20 ms frames
//! and pre-encoded to PCMU and PCMA, so a call never reads, decodes or encodes a prompt.
//!
//! Only [`PromptLibrary::load`] touches the file system; [`Prompt`] and the [`Playback`] cursor
//! are plain data (no I/O). Layout: `DIR/<lang>/<name>.wav` per language (`nl`, `en`),
//! `DIR/<name>.wav` for language-independent prompts (`language.wav`, `hold.wav`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::Language;
use crate::ivr::IvrConfig;
use crate::media::g711::{G711, alaw_encode, ulaw_encode};

/// Samples in one 20 ms frame at 8 kHz (RFC 3551 §4.5: G.711 default packetisation 20 ms).
pub const FRAME_SAMPLES: usize = 160;
/// Sample rate every prompt must have.
const SAMPLE_RATE: u32 = 8000;
/// The hold tune, language-independent: `DIR/hold.wav`.
const HOLD: &str = "hold";
/// Prompts the call task plays outside the menu; [`PromptLibrary::validate_menu`] checks them too.
const CALL_PROMPTS: [&str; 2] = ["max_wait", "goodbye"];
/// Every language with a prompt folder.
const LANGUAGES: [Language; 2] = [Language::Nl, Language::En];

/// Why the prompts could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The prompt folder (or a language folder in it) cannot be listed.
    #[error("cannot read prompt folder {}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A WAV file cannot be opened or decoded.
    #[error("cannot read prompt {}", path.display())]
    Wav {
        path: PathBuf,
        #[source]
        source: hound::Error,
    },
    /// A WAV file is not 8 kHz mono 16-bit integer PCM.
    #[error(
        "prompt {} is {found}; prompts must be 8000 Hz, mono, 16-bit integer PCM \
         (convert with: sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT)",
        path.display()
    )]
    Format { path: PathBuf, found: String },
    /// A WAV file holds no samples.
    #[error("prompt {} holds no audio", path.display())]
    Empty { path: PathBuf },
    /// Prompts that the menu or the call needs are not in the folder.
    #[error("prompts missing in {}: {}", dir.display(), missing.join(", "))]
    Missing { dir: PathBuf, missing: Vec<String> },
}

/// One prompt: 20 ms frames of PCM, PCMU and PCMA, shared by every call that plays it.
#[derive(Debug)]
pub struct Prompt {
    pcm: Box<[i16]>,
    pcmu: Box<[u8]>,
    pcma: Box<[u8]>,
}

impl Prompt {
    /// Cuts `samples` into frames (the last padded with silence) and encodes them once.
    pub fn from_samples(mut samples: Vec<i16>) -> Prompt {
        let frames = samples.len().div_ceil(FRAME_SAMPLES);
        samples.resize(frames * FRAME_SAMPLES, 0);
        let pcmu = samples.iter().map(|&s| ulaw_encode(s)).collect();
        let pcma = samples.iter().map(|&s| alaw_encode(s)).collect();
        Prompt {
            pcm: samples.into_boxed_slice(),
            pcmu,
            pcma,
        }
    }

    /// Number of 20 ms frames.
    pub fn frames(&self) -> usize {
        self.pcm.len() / FRAME_SAMPLES
    }

    /// Playing time (frames × 20 ms).
    pub fn duration(&self) -> Duration {
        Duration::from_millis(20 * self.frames() as u64)
    }

    /// Frame `i` encoded for `codec` (160 bytes), or `None` past the end.
    pub fn frame(&self, i: usize, codec: G711) -> Option<&[u8]> {
        let all = match codec {
            G711::Pcmu => &self.pcmu,
            G711::Pcma => &self.pcma,
        };
        all.get(i * FRAME_SAMPLES..(i + 1) * FRAME_SAMPLES)
    }

    /// Frame `i` as linear PCM (160 samples), or `None` past the end.
    pub fn pcm_frame(&self, i: usize) -> Option<&[i16]> {
        self.pcm.get(i * FRAME_SAMPLES..(i + 1) * FRAME_SAMPLES)
    }

    /// Every sample, padded to whole frames (tests compare received audio with this).
    pub fn pcm(&self) -> &[i16] {
        &self.pcm
    }
}

/// Every prompt of the folder, loaded once at start; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct PromptLibrary {
    dir: PathBuf,
    /// `(None, name)` is a language-independent prompt.
    prompts: HashMap<(Option<Language>, String), Arc<Prompt>>,
    hold: Arc<Prompt>,
}

impl PromptLibrary {
    /// Reads `dir/*.wav`, `dir/nl/*.wav` and `dir/en/*.wav`; `dir/hold.wav` must exist.
    pub fn load(dir: &Path) -> Result<PromptLibrary, PromptError> {
        let mut prompts = HashMap::new();
        load_folder(dir, None, &mut prompts)?;
        for lang in LANGUAGES {
            let sub = dir.join(lang.as_str());
            if sub.is_dir() {
                load_folder(&sub, Some(lang), &mut prompts)?;
            }
        }
        let Some(hold) = prompts.get(&(None, HOLD.to_owned())).cloned() else {
            return Err(PromptError::Missing {
                dir: dir.to_owned(),
                missing: vec![format!("{HOLD}.wav")],
            });
        };
        Ok(PromptLibrary {
            dir: dir.to_owned(),
            prompts,
            hold,
        })
    }

    /// The prompt `name` in `lang`, else the language-independent one of that name.
    pub fn get(&self, lang: Language, name: &str) -> Option<Arc<Prompt>> {
        self.prompts
            .get(&(Some(lang), name.to_owned()))
            .or_else(|| self.prompts.get(&(None, name.to_owned())))
            .cloned()
    }

    /// The hold tune (language-independent, loops).
    pub fn hold(&self) -> Arc<Prompt> {
        Arc::clone(&self.hold)
    }

    /// Fails, naming every missing file, unless each `(language, name)` resolves with [`Self::get`].
    pub fn require<'a>(
        &self,
        needed: impl IntoIterator<Item = (Language, &'a str)>,
    ) -> Result<(), PromptError> {
        let mut missing: Vec<String> = needed
            .into_iter()
            .filter(|&(lang, name)| self.get(lang, name).is_none())
            .map(|(lang, name)| format!("{lang}/{name}.wav"))
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PromptError::Missing {
                dir: self.dir.clone(),
                missing,
            })
        }
    }

    /// Checks at start that every prompt the menu can play (and `max_wait`, `goodbye`) exists
    /// in every language a caller can end up in.
    pub fn validate_menu(&self, ivr: &IvrConfig) -> Result<(), PromptError> {
        let mut needed = ivr.required_prompts();
        for lang in ivr.languages() {
            needed.extend(CALL_PROMPTS.iter().map(|&n| (lang, n.to_owned())));
        }
        self.require(needed.iter().map(|(lang, name)| (*lang, name.as_str())))
    }
}

/// Loads every `*.wav` directly in `dir` into `prompts` under `lang`.
fn load_folder(
    dir: &Path,
    lang: Option<Language>,
    prompts: &mut HashMap<(Option<Language>, String), Arc<Prompt>>,
) -> Result<(), PromptError> {
    let read_dir_err = |source| PromptError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_dir_err)? {
        let path = entry.map_err(read_dir_err)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wav") || !path.is_file() {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let prompt = read_wav(&path)?;
        prompts.insert((lang, name.to_owned()), Arc::new(prompt));
    }
    Ok(())
}

/// Reads one WAV file, insisting on 8 kHz mono 16-bit integer PCM.
fn read_wav(path: &Path) -> Result<Prompt, PromptError> {
    let wav_err = |source| PromptError::Wav {
        path: path.to_owned(),
        source,
    };
    let reader = hound::WavReader::open(path).map_err(wav_err)?;
    let spec = reader.spec();
    if spec.sample_rate != SAMPLE_RATE
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(PromptError::Format {
            path: path.to_owned(),
            found: format!(
                "{} Hz, {} channel(s), {}-bit {:?}",
                spec.sample_rate, spec.channels, spec.bits_per_sample, spec.sample_format
            ),
        });
    }
    let samples = reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(wav_err)?;
    if samples.is_empty() {
        return Err(PromptError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(Prompt::from_samples(samples))
}

/// A cursor over one or more prompts played back to back, once or looping; no I/O.
///
/// The call task takes one frame every 20 ms with [`Playback::next_frame`]; `None` means the
/// playback is over (never for a looping one).
#[derive(Debug, Clone)]
pub struct Playback {
    /// Tells one playback from the next (a call notices that its audio changed).
    id: u32,
    items: Vec<Arc<Prompt>>,
    item: usize,
    frame: usize,
    looping: bool,
}

impl Playback {
    /// Plays `prompt` once.
    pub fn once(prompt: Arc<Prompt>) -> Playback {
        Playback::sequence(vec![prompt], false)
    }

    /// Plays `prompt` over and over (hold music).
    pub fn looping(prompt: Arc<Prompt>) -> Playback {
        Playback::sequence(vec![prompt], true)
    }

    /// Plays `items` back to back (e.g. `position_intro`, `number_3`), once or looping.
    pub fn sequence(items: Vec<Arc<Prompt>>, looping: bool) -> Playback {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        Playback {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            items,
            item: 0,
            frame: 0,
            looping,
        }
    }

    /// The index of the next frame to send as `(prompt in the sequence, frame)`, advancing.
    fn advance(&mut self) -> Option<(usize, usize)> {
        // Bounded: each pass either returns or moves to the next item; a looping sequence of
        // empty prompts (impossible after `load`, which rejects empty files) ends after one round.
        for _ in 0..=self.items.len() {
            let prompt = self.items.get(self.item)?;
            if self.frame < prompt.frames() {
                let at = (self.item, self.frame);
                self.frame += 1;
                return Some(at);
            }
            self.frame = 0;
            self.item += 1;
            if self.item == self.items.len() && self.looping {
                self.item = 0;
            }
        }
        None
    }

    /// The next 20 ms frame encoded for `codec`, or `None` when the playback is over.
    pub fn next_frame(&mut self, codec: G711) -> Option<&[u8]> {
        let (item, frame) = self.advance()?;
        self.items.get(item)?.frame(frame, codec)
    }

    /// The next 20 ms frame as linear PCM, or `None` when the playback is over.
    pub fn next_pcm_frame(&mut self) -> Option<&[i16]> {
        let (item, frame) = self.advance()?;
        self.items.get(item)?.pcm_frame(frame)
    }

    /// This playback's identity: a new playback (even of the same prompt) has another.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// True once [`Self::next_frame`] has returned `None` (never for a looping playback).
    pub fn is_finished(&self) -> bool {
        self.item >= self.items.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::Language::{En, Nl};

    /// The committed prompts: `ivr-prompts/` at the crate root.
    fn shipped() -> PromptLibrary {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-prompts");
        PromptLibrary::load(&dir).unwrap()
    }

    fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    /// A folder with `hold.wav` (2 frames), `nl/greeting.wav` (1.5 frames), `en/greeting.wav`.
    fn small_folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_wav(&dir.path().join("hold.wav"), 8000, 1, &[100; 320]);
        write_wav(&dir.path().join("nl/greeting.wav"), 8000, 1, &[1000; 240]);
        write_wav(&dir.path().join("en/greeting.wav"), 8000, 1, &[-1000; 160]);
        write_wav(&dir.path().join("language.wav"), 8000, 1, &[7; 10]);
        dir
    }

    #[test]
    fn frames_are_padded_with_silence_and_pre_encoded() {
        let p = Prompt::from_samples(vec![8000; 161]);
        assert_eq!(p.frames(), 2);
        assert_eq!(p.duration(), Duration::from_millis(40));
        assert_eq!(p.pcm_frame(1).unwrap()[0], 8000);
        assert!(p.pcm_frame(1).unwrap()[1..].iter().all(|&s| s == 0));
        // G.711 silence: µ-law 0xFF, A-law 0xD5 (ITU-T G.711 tables 1a/2a, code for 0).
        assert!(
            p.frame(1, G711::Pcmu).unwrap()[1..]
                .iter()
                .all(|&b| b == 0xFF)
        );
        assert!(
            p.frame(1, G711::Pcma).unwrap()[1..]
                .iter()
                .all(|&b| b == 0xD5)
        );
        // The sample 8000 is µ-law 0xA0 and A-law 0x8A (reference: sox -e u-law / -e a-law).
        assert_eq!(p.frame(0, G711::Pcmu).unwrap()[0], 0xA0);
        assert_eq!(p.frame(0, G711::Pcma).unwrap()[0], 0x8A);
        assert_eq!(p.frame(0, G711::Pcmu).unwrap().len(), FRAME_SAMPLES);
        assert!(p.frame(2, G711::Pcmu).is_none());
        assert!(p.pcm_frame(2).is_none());
    }

    #[test]
    fn language_falls_back_to_the_shared_prompt() {
        let dir = small_folder();
        let lib = PromptLibrary::load(dir.path()).unwrap();
        assert_eq!(lib.get(Nl, "greeting").unwrap().pcm()[0], 1000);
        assert_eq!(lib.get(En, "greeting").unwrap().pcm()[0], -1000);
        assert_eq!(lib.get(En, "language").unwrap().pcm()[0], 7);
        assert!(lib.get(Nl, "category").is_none());
        assert_eq!(lib.hold().frames(), 2);
        // The same prompt is shared, not copied.
        assert!(Arc::ptr_eq(
            &lib.get(Nl, "greeting").unwrap(),
            &lib.get(Nl, "greeting").unwrap()
        ));
    }

    #[test]
    fn require_names_every_missing_file() {
        let lib = PromptLibrary::load(small_folder().path()).unwrap();
        assert!(lib.require([(Nl, "greeting"), (En, "language")]).is_ok());
        let err = lib
            .require([(Nl, "invalid"), (En, "greeting"), (En, "invalid")])
            .unwrap_err();
        match err {
            PromptError::Missing { missing, .. } => {
                assert_eq!(missing, ["en/invalid.wav", "nl/invalid.wav"])
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn wrong_formats_are_rejected_naming_the_file() {
        let dir = small_folder();
        write_wav(&dir.path().join("en/category.wav"), 16000, 1, &[0; 320]);
        let err = PromptLibrary::load(dir.path()).unwrap_err();
        assert!(matches!(err, PromptError::Format { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("category.wav") && text.contains("16000 Hz"),
            "{text}"
        );

        write_wav(&dir.path().join("en/category.wav"), 8000, 2, &[0; 320]);
        let err = PromptLibrary::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("2 channel(s)"), "{err}");

        write_wav(&dir.path().join("en/category.wav"), 8000, 1, &[]);
        assert!(matches!(
            PromptLibrary::load(dir.path()),
            Err(PromptError::Empty { .. })
        ));

        std::fs::write(dir.path().join("en/category.wav"), b"RIFF....not a wav").unwrap();
        let err = PromptLibrary::load(dir.path()).unwrap_err();
        assert!(matches!(err, PromptError::Wav { .. }) && err.to_string().contains("category.wav"));
    }

    #[test]
    fn hold_music_is_required() {
        let dir = small_folder();
        std::fs::remove_file(dir.path().join("hold.wav")).unwrap();
        let err = PromptLibrary::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("hold.wav"), "{err}");
        let err = PromptLibrary::load(&dir.path().join("nowhere")).unwrap_err();
        assert!(matches!(err, PromptError::ReadDir { .. }));
    }

    #[test]
    fn playback_once_then_none() {
        let p = Arc::new(Prompt::from_samples((0..320).map(|i| i as i16).collect()));
        let mut play = Playback::once(p);
        assert_eq!(play.next_pcm_frame().unwrap()[0], 0);
        assert_eq!(play.next_pcm_frame().unwrap()[0], 160);
        assert!(!play.is_finished());
        assert!(play.next_frame(G711::Pcmu).is_none());
        assert!(play.is_finished());
        assert!(play.next_frame(G711::Pcmu).is_none());
    }

    #[test]
    fn playback_sequence_and_loop() {
        let a = Arc::new(Prompt::from_samples(vec![1; 160]));
        let b = Arc::new(Prompt::from_samples(vec![2; 320]));
        let mut seq = Playback::sequence(vec![a.clone(), b.clone()], false);
        let firsts: Vec<i16> = std::iter::from_fn(|| seq.next_pcm_frame().map(|f| f[0])).collect();
        assert_eq!(firsts, [1, 2, 2]);

        let mut hold = Playback::sequence(vec![a, b], true);
        let firsts: Vec<i16> = (0..7).map(|_| hold.next_pcm_frame().unwrap()[0]).collect();
        assert_eq!(firsts, [1, 2, 2, 1, 2, 2, 1]);
        assert!(!hold.is_finished());
        assert!(
            Playback::sequence(Vec::new(), true)
                .next_pcm_frame()
                .is_none()
        );
    }

    #[test]
    fn shipped_prompts_cover_the_default_menu_and_the_queue_announcements() {
        let lib = shipped();
        lib.validate_menu(&IvrConfig::default()).unwrap();
        let mut names = vec!["position_intro".to_owned(), "wait_intro".into()];
        names.extend(["wait_under_1".into(), "wait_over_15".into()]);
        names.extend((1..=20).map(|n| format!("number_{n}")));
        names.extend((1..=15).map(|n| format!("wait_{n}")));
        for lang in LANGUAGES {
            lib.require(names.iter().map(|n| (lang, n.as_str())))
                .unwrap();
        }
        // Real speech, not silence: the peak is near the -3 dBFS the script normalises to.
        let greeting = lib.get(En, "greeting").unwrap();
        let peak = greeting
            .pcm()
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!((20000..=23500).contains(&peak), "peak {peak}");
        assert!(greeting.duration() > Duration::from_millis(800));
        // Dutch and English differ.
        assert_ne!(
            lib.get(Nl, "category").unwrap().pcm(),
            lib.get(En, "category").unwrap().pcm()
        );
    }

    #[test]
    fn shipped_hold_tune_loops_without_a_click() {
        let hold = shipped().hold();
        let d = hold.duration();
        assert!(
            d >= Duration::from_secs(20) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let pcm = hold.pcm();
        // Both ends are silent, so the jump from the last sample to the first is zero.
        assert_eq!(pcm.first(), Some(&0));
        assert_eq!(pcm.last(), Some(&0));
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(
            (6000..=10000).contains(&peak),
            "moderate level, peak {peak}"
        );
    }
}
