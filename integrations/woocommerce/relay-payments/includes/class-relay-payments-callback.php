<?php
/**
 * The relay's status callback: `POST {home}/?wc-api=relay` (WooCommerce's `woocommerce_api_relay` action).
 *
 * The body is a Standard Webhooks-shaped invoice event, `{"type", "timestamp", "data": <invoice JSON>}`
 * (README "Status webhooks"). It is only a hint: the invoice id is taken from it, the invoice is
 * re-read from the relay's store route with this store's token, the order is found by the re-read
 * invoice's order_id and must have recorded that invoice itself; then the re-read state is applied.
 * A forged body (an id the relay does not know) or a real invoice relabelled for another order
 * therefore changes nothing. Answers: 200 when applied or ignored, 400 for an unreadable body,
 * 405 for another method, 503 when the relay cannot be asked (the relay retries 5xx).
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * Handles one callback request.
 */
class Relay_Payments_Callback {

	/**
	 * Relay invoice ids: `inv_` and URL-safe base64 today; the shape is checked before it goes in a URL.
	 */
	const INVOICE_ID_PATTERN = '/^[A-Za-z0-9_-]{1,64}$/';

	/**
	 * The relay's store API.
	 *
	 * @var Relay_Payments_Client
	 */
	private $client;

	/**
	 * The store's name, which every re-read invoice must carry.
	 *
	 * @var string
	 */
	private $store;

	/**
	 * Build the handler.
	 *
	 * @param Relay_Payments_Client $client The relay's store API.
	 * @param string                $store  This store's name in the relay's config.
	 */
	public function __construct( $client, $store ) {
		$this->client = $client;
		$this->store  = $store;
	}

	/**
	 * Serve the current request (hooked on `woocommerce_api_relay`) and end it.
	 *
	 * WC_API::handle_api_requests() buffers output around the action and dies with "-1" after it,
	 * so the answer is sent here with wp_send_json(), which ends the request.
	 */
	public static function serve() {
		$settings = Relay_Payments_Settings::load();
		$handler  = new self( new Relay_Payments_Client( $settings ), $settings['store'] );
		$method   = isset( $_SERVER['REQUEST_METHOD'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REQUEST_METHOD'] ) ) : '';
		if ( ! Relay_Payments_Settings::is_complete( $settings ) ) {
			wp_send_json( array( 'error' => array( 'code' => 'not_configured', 'message' => 'the relay gateway has no settings yet' ) ), 503 );
		}
		list( $status, $answer ) = $handler->handle( $method, (string) file_get_contents( 'php://input' ) );
		wp_send_json( $answer, $status );
	}

	/**
	 * Handle one callback.
	 *
	 * @param string $method The HTTP method.
	 * @param string $body   The raw request body.
	 * @return array{0: int, 1: array<string, mixed>} HTTP status and JSON answer.
	 */
	public function handle( $method, $body ) {
		if ( 'POST' !== strtoupper( $method ) ) {
			return self::error( 405, 'method_not_allowed', 'POST the invoice event' );
		}
		$event = json_decode( $body, true );
		if ( ! is_array( $event ) || ! isset( $event['data'] ) || ! is_array( $event['data'] ) ) {
			return self::error( 400, 'invalid_payload', 'expected {"type", "timestamp", "data": <invoice JSON>}' );
		}
		$invoice_id = isset( $event['data']['id'] ) ? $event['data']['id'] : null;
		if ( ! is_string( $invoice_id ) || 1 !== preg_match( self::INVOICE_ID_PATTERN, $invoice_id ) ) {
			return self::error( 400, 'invalid_payload', 'data.id must be the relay\'s invoice id' );
		}

		$invoice = $this->client->get_invoice( $invoice_id );
		if ( is_wp_error( $invoice ) ) {
			$data = $invoice->get_error_data();
			if ( is_array( $data ) && isset( $data['status'] ) && 404 === (int) $data['status'] && 'not_found' === $invoice->get_error_code() ) {
				return self::ignored( 'the relay does not know this invoice for this store' );
			}
			self::log( 'cannot re-read invoice ' . $invoice_id . ': ' . $invoice->get_error_code() . ' ' . $invoice->get_error_message() );
			return self::error( 503, 'relay_unavailable', 'the invoice could not be re-read from the relay; try again later' );
		}
		return array( 200, $this->apply( $invoice_id, $invoice ) );
	}

	/**
	 * Apply a re-read invoice to its order, if it is that order's.
	 *
	 * @param string               $invoice_id The id that was asked for.
	 * @param array<string, mixed> $invoice    The invoice JSON the relay answered.
	 * @return array<string, mixed> The callback's answer body.
	 */
	public function apply( $invoice_id, $invoice ) {
		if ( ! isset( $invoice['id'] ) || $invoice_id !== $invoice['id'] || ( isset( $invoice['store'] ) && $this->store !== $invoice['store'] ) ) {
			return self::ignored( 'the relay answered another invoice' )[1];
		}
		$order_id = isset( $invoice['order_id'] ) ? (string) $invoice['order_id'] : '';
		$order    = ctype_digit( $order_id ) ? wc_get_order( (int) $order_id ) : false;
		if ( ! $order || ! is_a( $order, 'WC_Order' ) ) {
			return self::ignored( 'no such order' )[1];
		}
		if ( ! Relay_Payments_Orders::owns( $order, $invoice ) ) {
			return self::ignored( 'the order did not open this invoice' )[1];
		}
		return array(
			'result'       => Relay_Payments_Orders::apply( $order, $invoice ),
			'order_status' => $order->get_status(),
		);
	}

	/**
	 * Return an "ignored" answer (200: the relay must not retry it).
	 *
	 * @param string $why Why.
	 * @return array{0: int, 1: array<string, mixed>}
	 */
	private static function ignored( $why ) {
		return array(
			200,
			array(
				'result' => 'ignored',
				'reason' => $why,
			),
		);
	}

	/**
	 * Return an error answer.
	 *
	 * @param int    $status  HTTP status.
	 * @param string $code    Error code.
	 * @param string $message Message.
	 * @return array{0: int, 1: array<string, mixed>}
	 */
	private static function error( $status, $code, $message ) {
		return array(
			$status,
			array(
				'error' => array(
					'code'    => $code,
					'message' => $message,
				),
			),
		);
	}

	/**
	 * Log a warning in WooCommerce's log (source relay-payments); never a secret.
	 *
	 * @param string $message The message.
	 */
	public static function log( $message ) {
		if ( function_exists( 'wc_get_logger' ) ) {
			wc_get_logger()->warning( $message, array( 'source' => 'relay-payments' ) );
		}
	}
}
