// The Webhooks service's client-visible errors: one place, stable messages (the README lists them).
import { InvalidArgument, NotFound } from "@obfy/kit/core";

export const SUBSCRIPTION_NOT_FOUND = "Subscription not found";
export const DELIVERY_NOT_FOUND = "Delivery not found";
export const PRIVATE_ADDRESS = "Webhook URL must not point to a private network address";
export const INVALID_PAGE_TOKEN = "Invalid page token";
export const EVENTS_REQUIRED = "subscription.events must name at least one event";
export const UNKNOWN_EVENT = "subscription.events has an unknown event";
export const DESCRIPTION_TOO_LONG = "subscription.description must be at most 200 characters";
export const URL_REQUIRED = "subscription.url is required";
export const URL_TOO_LONG = "subscription.url must be at most 2000 characters";
export const PAGE_SIZE_RANGE = "page_size must be between 0 and 100";

export const subscriptionNotFound = (): NotFound => new NotFound(SUBSCRIPTION_NOT_FOUND);
export const deliveryNotFound = (): NotFound => new NotFound(DELIVERY_NOT_FOUND);
export const invalidPageToken = (): InvalidArgument => new InvalidArgument(INVALID_PAGE_TOKEN);
export const invalid = (message: string): InvalidArgument => new InvalidArgument(message);
