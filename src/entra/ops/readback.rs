//! `ReadBackAzureADSyncObjects` and `ReadBackAzureADSyncObjects2`: the
//! synced objects as the service holds them. Version 2 leaves out empty attributes.

use std::sync::Mutex;

use super::objects::SyncObject;
use super::provision::ProvisionVersion;
use super::{Operation, bool_text, member, operation_element};
use crate::entra::nbfx::{self, Element, ElementRef, Limits, NbfxError, ns};
use crate::entra::soap::ResponseError;

/// The element whose children are the objects read back.
const OBJECTS_CONTAINER: &str = "ResultObjects";

/// How many reasons for skipped objects or values are kept for the log; the rest are counted.
const SKIPPED_KEPT: usize = 20;

/// Reads every synced object back. No paging of it is known: `inputCookie` is sent nil.
#[derive(Debug, Clone, Copy)]
pub struct ReadBack {
    pub version: ProvisionVersion,
    pub include_license_information: bool,
    pub full_sync: bool,
}

impl Default for ReadBack {
    fn default() -> Self {
        ReadBack { version: ProvisionVersion::V2, include_license_information: true, full_sync: true }
    }
}

/// The objects read back, and what could not be read (objects of unknown types, values of
/// unknown types), described for the log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadBackResult {
    pub objects: Vec<SyncObject>,
    pub skipped: Vec<String>,
}

impl Operation for ReadBack {
    type Output = ReadBackResult;

    fn name(&self) -> &'static str {
        match self.version {
            ProvisionVersion::V1 => "ReadBackAzureADSyncObjects",
            ProvisionVersion::V2 => "ReadBackAzureADSyncObjects2",
        }
    }

    fn body(&self) -> Element {
        operation_element(self.name())
            .child(Element::new("", "includeLicenseInformation").text(bool_text(self.include_license_information)))
            .child(Element::new("", "inputCookie").attr("i", "nil", "true").xmlns("i", ns::XML_SCHEMA_INSTANCE))
            .child(Element::new("", "isFullSync").text(bool_text(self.full_sync)))
    }

    fn parse(&self, result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError> {
        let mut out = ReadBackResult::default();
        // A missing result or an empty (or nil) ResultObjects means no objects.
        let Some(list) = result.as_ref().and_then(|r| member(r, "ResultObjects")) else {
            return Ok(out);
        };
        for (index, item) in list.children().enumerate() {
            let (object, skipped) = read_object(&item, index);
            out.skipped.extend(skipped);
            out.objects.extend(object);
        }
        Ok(out)
    }
}

/// One `AzureADSyncObject`, and what of it could not be read.
fn read_object(item: &ElementRef<'_>, index: usize) -> (Option<SyncObject>, Vec<String>) {
    match SyncObject::from_element(item) {
        Ok((object, skipped)) => {
            let name = object.source_anchor().or(object.cloud_anchor()).unwrap_or("?").to_owned();
            let skipped = skipped.into_iter().map(|s| format!("object {name}: {s}")).collect();
            (Some(object), skipped)
        }
        Err(reason) => (None, vec![format!("object #{index}: {reason}")]),
    }
}

/// A read-back that hands each object to a visitor as soon as it is decoded, so memory holds
/// one object at a time instead of the whole tenant (the response for 10,000 objects decodes
/// to hundreds of MB as a tree).
///
/// When a call is retried after a response was cut short, the visitor may see some objects
/// twice; its findings count only when the call succeeds.
pub struct ReadBackEach<'v> {
    request: ReadBack,
    visit: Mutex<&'v mut (dyn FnMut(SyncObject) + Send)>,
    progress: Mutex<Progress>,
}

/// What a streamed read-back saw (in the attempt that succeeded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadBackTally {
    pub objects: u64,
    /// Objects or values that could not be read: the first few reasons, and how many in all.
    pub skipped: Vec<String>,
    pub skipped_count: u64,
}

/// The current attempt's tally, and the index of its next item.
#[derive(Debug, Default)]
struct Progress {
    tally: ReadBackTally,
    index: usize,
}

impl<'v> ReadBackEach<'v> {
    pub fn new(request: ReadBack, visit: &'v mut (dyn FnMut(SyncObject) + Send)) -> Self {
        ReadBackEach { request, visit: Mutex::new(visit), progress: Mutex::new(Progress::default()) }
    }

    fn item(&self, visit: &mut (dyn FnMut(SyncObject) + Send), progress: &mut Progress, item: &Element) {
        let (object, skipped) = read_object(&item.view(), progress.index);
        progress.index += 1;
        let tally = &mut progress.tally;
        tally.skipped_count += skipped.len() as u64;
        let room = SKIPPED_KEPT.saturating_sub(tally.skipped.len());
        tally.skipped.extend(skipped.into_iter().take(room));
        if let Some(object) = object {
            tally.objects += 1;
            visit(object);
        }
    }
}

impl Operation for ReadBackEach<'_> {
    type Output = ReadBackTally;

    fn name(&self) -> &'static str {
        self.request.name()
    }

    fn body(&self) -> Element {
        self.request.body()
    }

    fn streams_result(&self) -> bool {
        true
    }

    fn split_container(&self) -> Option<&'static str> {
        Some(OBJECTS_CONTAINER)
    }

    fn take_item(&self, item: Element) {
        let mut visit = self.visit.lock().unwrap_or_else(|p| p.into_inner());
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        self.item(&mut **visit, &mut progress, &item);
    }

    fn start_response(&self) {
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = Progress::default();
    }

    fn decode(&self, body: &[u8], limits: &Limits) -> Result<Element, NbfxError> {
        let mut visit = self.visit.lock().unwrap_or_else(|p| p.into_inner());
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        nbfx::decode_split(body, limits, OBJECTS_CONTAINER, &mut |item| self.item(&mut **visit, &mut progress, &item))
    }

    fn parse(&self, _result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError> {
        // The objects went to the visitor while the response arrived and was decoded; what is
        // left of the result is empty.
        Ok(std::mem::take(&mut self.progress.lock().unwrap_or_else(|p| p.into_inner()).tally))
    }
}
